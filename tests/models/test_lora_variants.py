"""DoRA, rsLoRA and PiSSA through PEFT (lora.use_dora, use_rslora, use_pissa): trained, saved, reloaded and merged
like LoRA."""

import json

import pytest
import torch

from tests.conftest import train_tiny_run
from tests.models.test_chat import qa
from tunesmith.models.chat import encode_example
from tunesmith.models.heads import IGNORE_INDEX

PROMPT = "<|im_start|>user\nWhen do you open?<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.parametrize("options", [{"use_dora": True}, {"use_rslora": True}])
def test_the_answer_only_loss_holds_for_the_variant(tiny_model_dir, tiny_tokenizer, options):
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq

    from tunesmith.models.heads import answer_only_loss
    from tunesmith.models.load import add_lora

    model = add_lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir), 4, 8, 0.0, "all-linear", **options)
    for name, weight in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(weight, 0, 0.5)  # a trained-looking adapter, so the variant's maths counts
    rows = [encode_example(tiny_tokenizer, qa("Hours?", "9 to 6."), max_length=64)]
    batch = DataCollatorForSeq2Seq(tiny_tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)(rows)
    with torch.no_grad():
        assert torch.allclose(answer_only_loss(model, batch), model(**batch).loss, atol=1e-5)
    if options.get("use_dora"):
        assert any("lora_magnitude_vector" in name for name, _ in model.named_parameters())


@pytest.mark.parametrize("option", ["use_dora", "use_rslora", "use_pissa"])
def test_a_run_with_the_variant_saves_it_and_merges_to_the_same_logits(tiny_model_dir, tmp_path, option):
    import yaml
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.export import export_run

    run = train_tiny_run(tmp_path, tiny_model_dir, lora={option: True})
    saved = json.loads((run / "adapter" / "adapter_config.json").read_text())
    if option == "use_pissa":  # saved as plain LoRA of twice the rank on the untouched base
        assert saved["r"] == 16 and saved["lora_alpha"] == 32 and saved["init_lora_weights"] is True
    else:
        assert saved[option] is True
    assert yaml.safe_load((run / "config.yaml").read_text())["lora"][option] is True
    plan = json.loads((run / "plan.json").read_text())["choices"]["lora_variant"]
    names = {"use_dora": "DoRA", "use_rslora": "rsLoRA", "use_pissa": "PiSSA"}
    assert plan["source"] == "config" and plan["value"] == names[option]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    inputs = tokenizer(PROMPT, return_tensors="pt")
    adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), run / "adapter").eval()
    merged = AutoModelForCausalLM.from_pretrained(export_run(run, "merged", tmp_path / "merged")).eval()
    with torch.no_grad():
        tuned = adapter(**inputs).logits
        torch.testing.assert_close(merged(**inputs).logits, tuned, atol=1e-4, rtol=1e-4)
        with adapter.disable_adapter():
            assert not torch.allclose(adapter(**inputs).logits, tuned, atol=1e-3)  # the variant did train something


def test_pissa_starts_at_the_base_and_its_saved_adapter_answers_as_the_trained_model(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.training.helpers import fact_examples, train_tiny
    from tunesmith.models.load import PISSA_INIT, add_lora, load_trained_model

    inputs = AutoTokenizer.from_pretrained(tiny_model_dir)(PROMPT, return_tensors="pt")
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)(**inputs).logits
        pissa = add_lora(
            AutoModelForCausalLM.from_pretrained(tiny_model_dir), 4, 8, 0.0, "all-linear", init_lora_weights=PISSA_INIT
        )
        torch.testing.assert_close(pissa(**inputs).logits, base, atol=1e-4, rtol=1e-4)  # the same function at start
        with pissa.disable_adapter():
            assert not torch.allclose(pissa(**inputs).logits, base, atol=1e-3)  # the base holds only the rest

    # three epochs with validation: the best epoch's checkpoint is loaded back before the adapter is saved
    bundle, run, result = train_tiny(
        tiny_model_dir,
        tmp_path / "runs",
        fact_examples(repeat=4),
        fact_examples(),
        lora_options={"init_lora_weights": PISSA_INIT},
        lora={"r": 8, "alpha": 16},  # PiSSA's start takes r singular directions: no more than k_proj's 24 outputs
        training={"epochs": 3, "learning_rate": 3e-2, "bf16": False},
    )
    assert result.converted and result.best_checkpoint is not None
    assert (run.path / "adapter-initial" / "adapter_config.json").is_file()
    saved = json.loads((run.adapter_dir / "adapter_config.json").read_text())
    assert saved["r"] == 2 * bundle.model.peft_config["default"].r
    reloaded = load_trained_model(tiny_model_dir, run.adapter_dir, None).model.eval()
    with torch.no_grad():
        trained = bundle.model.eval()(**inputs).logits
        torch.testing.assert_close(reloaded(**inputs).logits, trained, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(trained, base, atol=1e-3)  # it trained
