from tunesmith.data import Example
from tunesmith.tasks.causal import IGNORE_INDEX, chat_text, encode_example, prompt_text


def labelled_text(tokenizer, encoded) -> str:
    return tokenizer.decode([token for token in encoded["labels"] if token != IGNORE_INDEX])


def qa(question: str, answer: str) -> Example:
    return Example(messages=({"role": "user", "content": question}, {"role": "assistant", "content": answer}))


def test_loss_is_on_the_answer_and_its_end_token_only(tiny_tokenizer):
    encoded = encode_example(tiny_tokenizer, qa("What are your hours?", "9 am to 6 pm."), max_length=128)
    assert len(encoded["labels"]) == len(encoded["input_ids"])
    assert labelled_text(tiny_tokenizer, encoded) == "9 am to 6 pm.<|im_end|>\n"
    first_label = next(i for i, token in enumerate(encoded["labels"]) if token != IGNORE_INDEX)
    assert tiny_tokenizer.decode(encoded["input_ids"][:first_label]).endswith("<|im_start|>assistant\n")


def test_every_assistant_turn_of_a_conversation_is_learned_and_nothing_else(tiny_tokenizer):
    example = Example(
        messages=(
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello there"},
            {"role": "user", "content": "Hours?"},
            {"role": "assistant", "content": "Nine to six"},
        )
    )
    encoded = encode_example(tiny_tokenizer, example, max_length=128)
    assert labelled_text(tiny_tokenizer, encoded) == "Hello there<|im_end|>\nNine to six<|im_end|>\n"


def test_system_prompt_is_prepended_and_not_learned(tiny_tokenizer):
    example = qa("Q?", "A.")
    text = chat_text(tiny_tokenizer, example.messages, "You are terse.")
    assert text.startswith("<|im_start|>system\nYou are terse.<|im_end|>")
    encoded = encode_example(tiny_tokenizer, example, max_length=128, system_prompt="You are terse.")
    assert labelled_text(tiny_tokenizer, encoded) == "A.<|im_end|>\n"
    assert prompt_text(tiny_tokenizer, example.prompt, "You are terse.").endswith("<|im_start|>assistant\n")


def test_long_examples_are_cut_at_max_length(tiny_tokenizer):
    encoded = encode_example(tiny_tokenizer, qa("Q?", "word " * 200), max_length=32)
    assert len(encoded["input_ids"]) == 32 == len(encoded["labels"])


def test_answer_only_loss_equals_the_models_own_loss(tiny_model_dir, tiny_tokenizer):
    import torch
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq

    from tunesmith.tasks.causal import answer_only_loss, supports_answer_only_head

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

    from tunesmith.tasks.causal import add_lora, answer_only_loss

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
