"""DoRA and rsLoRA through PEFT (lora.use_dora, lora.use_rslora): trained, saved, reloaded and merged like LoRA."""

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


@pytest.mark.parametrize("option", ["use_dora", "use_rslora"])
def test_a_run_with_the_variant_saves_it_and_merges_to_the_same_logits(tiny_model_dir, tmp_path, option):
    import yaml
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.export import export_run

    run = train_tiny_run(tmp_path, tiny_model_dir, lora={option: True})
    assert json.loads((run / "adapter" / "adapter_config.json").read_text())[option] is True
    assert yaml.safe_load((run / "config.yaml").read_text())["lora"][option] is True
    plan = json.loads((run / "plan.json").read_text())["choices"]["lora_variant"]
    assert plan["source"] == "config" and plan["value"] == {"use_dora": "DoRA", "use_rslora": "rsLoRA"}[option]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    inputs = tokenizer(PROMPT, return_tensors="pt")
    adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), run / "adapter").eval()
    merged = AutoModelForCausalLM.from_pretrained(export_run(run, "merged", tmp_path / "merged")).eval()
    with torch.no_grad():
        tuned = adapter(**inputs).logits
        torch.testing.assert_close(merged(**inputs).logits, tuned, atol=1e-4, rtol=1e-4)
        with adapter.disable_adapter():
            assert not torch.allclose(adapter(**inputs).logits, tuned, atol=1e-3)  # the variant did train something
