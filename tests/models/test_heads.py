from tests.models.test_chat import qa
from tunesmith.models.chat import encode_example
from tunesmith.models.heads import IGNORE_INDEX


def test_answer_only_loss_equals_the_models_own_loss(tiny_model_dir, tiny_tokenizer):
    import torch
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq

    from tunesmith.models.heads import answer_only_loss, supports_answer_only_head

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    rows = [
        encode_example(tiny_tokenizer, qa(q, a), max_length=64)
        for q, a in [("Hours?", "9 to 6."), ("Where?", "418 Linden Avenue, Harbor Falls.")]
    ]
    batch = DataCollatorForSeq2Seq(tiny_tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)(rows)
    assert supports_answer_only_head(model)
    with torch.no_grad():
        expected = model(**batch).loss
        assert torch.allclose(answer_only_loss(model, batch), expected, atol=1e-5)
        answer_tokens = (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
        halved = answer_only_loss(model, batch, num_items_in_batch=2 * answer_tokens)
        assert torch.allclose(halved, expected / 2, atol=1e-5)


def test_parent_kl_is_zero_at_the_parent_and_matches_its_definition_after(tiny_model_dir, tiny_tokenizer):
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq

    from tunesmith.models.heads import answer_only_loss
    from tunesmith.models.load import add_lora

    model = add_lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir), 4, 8, 0.0, "all-linear")
    rows = [encode_example(tiny_tokenizer, qa("Hours?", "9 to 6."), max_length=64)]
    batch = DataCollatorForSeq2Seq(tiny_tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)(rows)
    with torch.no_grad():
        plain = answer_only_loss(model, batch)
        assert torch.allclose(
            answer_only_loss(model, batch, parent_kl_weight=0.5), plain
        )  # a fresh adapter is the parent
        for name, weight in model.named_parameters():
            if "lora_B" in name:
                weight.normal_(0, 0.5)
        moved = answer_only_loss(model, batch)
        with_kl = answer_only_loss(model, batch, parent_kl_weight=0.5)
        labels = batch["labels"][:, 1:]
        keep = labels != IGNORE_INDEX
        tuned = F.log_softmax(model(**batch).logits[:, :-1][keep], dim=-1)
        with model.disable_adapter():
            parent = F.log_softmax(model(**batch).logits[:, :-1][keep], dim=-1)
        kl = (parent.exp() * (parent - tuned)).sum() / keep.sum()
    assert kl > 0
    assert torch.allclose(with_kl, moved + 0.5 * kl, atol=1e-4)
