"""Full fine-tuning of generative models (training.method: full): every weight trained, the run's ``model/`` a plain
transformers folder that scoring, export, serving and continued runs read instead of an adapter."""

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import train_tiny_run
from tunesmith.config import config_from_dict
from tunesmith.errors import ConfigError

PROMPT = "<|im_start|>user\nWhen do you open?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, tiny_model_dir):
    return train_tiny_run(
        tmp_path_factory.mktemp("full"), tiny_model_dir, training={"method": "full"}, evaluation={"compare_base": True}
    )


def _logits(model_dir, inputs):
    from transformers import AutoModelForCausalLM

    with torch.no_grad():
        return AutoModelForCausalLM.from_pretrained(model_dir).eval()(**inputs).logits


def test_a_full_run_saves_the_whole_model_and_no_adapter(full_run, tiny_model_dir):
    from transformers import AutoTokenizer

    assert (full_run / "model" / "config.json").is_file() and (full_run / "model" / "model.safetensors").is_file()
    assert not (full_run / "adapter").exists()
    assert (full_run / "model" / "tokenizer_config.json").is_file()  # with its chat template, ready to serve
    choices = json.loads((full_run / "plan.json").read_text())["choices"]
    assert choices["method"]["value"] == "full" and choices["method"]["source"] == "config"
    assert "lora_r" not in choices and "target_modules" not in choices
    inputs = AutoTokenizer.from_pretrained(tiny_model_dir)(PROMPT, return_tensors="pt")
    assert not torch.allclose(_logits(full_run / "model", inputs), _logits(tiny_model_dir, inputs), atol=1e-3)


def test_frozen_embeddings_stay_as_they_were_while_the_other_weights_move(tmp_path, tiny_model_dir):
    from safetensors.torch import load_file

    run = train_tiny_run(tmp_path, tiny_model_dir, training={"method": "full", "freeze_embeddings": True})
    choices = json.loads((run / "plan.json").read_text())["choices"]
    assert choices["freeze_embeddings"]["value"] is True
    base, tuned = load_file(tiny_model_dir / "model.safetensors"), load_file(run / "model" / "model.safetensors")
    embeddings = "model.embed_tokens.weight"
    assert torch.equal(base[embeddings], tuned[embeddings])
    moved = [name for name in base if name != embeddings and not torch.equal(base[name], tuned[name])]
    assert any("mlp" in name for name in moved) and any("self_attn" in name for name in moved)


def test_a_full_run_scores_its_base_from_the_base_weights(full_run, tiny_model_dir):
    """The base column comes from the untouched base model, as a LoRA run's does with its adapter off."""
    from tunesmith.data import load_examples
    from tunesmith.metrics.generate import generate
    from tunesmith.models.chat import prompt_text
    from tunesmith.models.load import load_base_model, load_tokenizer

    rows = [json.loads(line) for line in (full_run / "predictions.jsonl").read_text().splitlines()]
    tokenizer = load_tokenizer(tiny_model_dir)
    system = "You answer for PressCrafters."
    examples = load_examples(full_run / "data" / "test.jsonl", "messages")
    prompts = [prompt_text(tokenizer, example.prompt, system) for example in examples]
    base = generate(load_base_model(tiny_model_dir), tokenizer, prompts, 8, 4, False)
    assert [row["base"]["answer"] for row in rows] == [output.text for output in base]
    assert any(row["base"]["answer"] != row["tuned"]["answer"] for row in rows)


def test_base_weights_puts_the_trained_weights_back(full_run, tiny_model_dir):
    from tunesmith.models.load import base_weights, load_trained_model

    bundle = load_trained_model(tiny_model_dir, full_run / "model", None)
    assert bundle.full and bundle.base_dir == tiny_model_dir
    trained = {name: tensor.clone() for name, tensor in bundle.model.state_dict().items()}
    base = load_trained_model(tiny_model_dir, full_run / "model", None).model  # a second copy to compare against
    with base_weights(bundle):
        from transformers import AutoModelForCausalLM

        plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
        for name, tensor in bundle.model.state_dict().items():
            torch.testing.assert_close(tensor, plain[name])
    for name, tensor in bundle.model.state_dict().items():
        torch.testing.assert_close(tensor, trained[name])
        torch.testing.assert_close(tensor, base.state_dict()[name])


def test_export_and_load_read_the_full_model(full_run, tmp_path):
    from transformers import AutoTokenizer

    from tunesmith import api as ts
    from tunesmith.errors import ExportError
    from tunesmith.export import export_run

    inputs = AutoTokenizer.from_pretrained(full_run / "model")(PROMPT, return_tensors="pt")
    merged = export_run(full_run, "merged", tmp_path / "merged")
    torch.testing.assert_close(_logits(merged, inputs), _logits(full_run / "model", inputs))
    model, tokenizer = ts.load(full_run)
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs).logits, _logits(full_run / "model", inputs))
    with pytest.raises(ExportError, match="whole model"):
        export_run(full_run, "adapter", tmp_path / "adapter")


def test_a_run_continued_from_a_full_run_trains_an_adapter_on_its_model(full_run, tmp_path, tiny_model_dir):
    from tunesmith.runs import RunFolder
    from tunesmith.runs.lineage import merged_model_dir

    assert merged_model_dir(RunFolder.open(full_run), tmp_path / "cache") == full_run / "model"
    assert not (tmp_path / "cache").exists()  # nothing to merge
    child = train_tiny_run(tmp_path, tiny_model_dir, continue_from=str(full_run))
    record = json.loads((child / "run.json").read_text())
    assert record["parent"]["kind"] == "run" and (child / "adapter" / "adapter_config.json").is_file()
    assert Path(record["parent"]["model_path"]).resolve() == (full_run / "model").resolve()


def _raw(tmp_path, **changes):
    (tmp_path / "train.jsonl").write_text('{"question": "q", "answer": "a"}\n')
    return {"data": {"train": str(tmp_path / "train.jsonl")}, **changes}


def test_settings_that_do_not_apply_to_a_full_fine_tune_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"lora\.r does not apply"):
        config_from_dict(_raw(tmp_path, training={"method": "full"}, lora={"r": 8}), "run.yaml")
    with pytest.raises(ConfigError, match="parent_kl_weight"):
        config_from_dict(
            _raw(
                tmp_path,
                training={"method": "full"},
                continue_from="runs/earlier",
                continual={"parent_kl_weight": 0.1},
            ),
            "run.yaml",
        )
    with pytest.raises(ConfigError, match=r"embedding\.method"):
        config_from_dict(_raw(tmp_path, task="embedding", training={"method": "full"}), "run.yaml")
    assert config_from_dict(_raw(tmp_path, training={"method": "full"}), "run.yaml").training.method == "full"


@pytest.mark.slow
def test_an_encoder_decoder_fine_tuned_in_full_is_scored_against_its_base_and_exported(tmp_path, tiny_t5_dir):
    import yaml
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from tests.e2e.test_summarization import summarization_config
    from tunesmith.config import load_config
    from tunesmith.export import export_run
    from tunesmith.pipeline import train_run

    path = summarization_config(tmp_path, tiny_t5_dir)
    raw = yaml.safe_load(path.read_text())
    raw["training"] |= {"method": "full", "epochs": 3, "learning_rate": 1e-3}
    raw["evaluation"] |= {"compare_base": True, "mode": "fast"}
    path.write_text(yaml.safe_dump(raw))
    run = train_run(load_config(path)).path
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"base", "tuned"} <= set(metrics) and not (run / "adapter").exists()
    inputs = AutoTokenizer.from_pretrained(tiny_t5_dir)("Anna: hi", return_tensors="pt")
    start = torch.zeros((1, 1), dtype=torch.long)
    merged = AutoModelForSeq2SeqLM.from_pretrained(export_run(run, "merged", tmp_path / "merged")).eval()
    trained = AutoModelForSeq2SeqLM.from_pretrained(run / "model").eval()
    base = AutoModelForSeq2SeqLM.from_pretrained(tiny_t5_dir).eval()
    with torch.no_grad():
        logits = trained(**inputs, decoder_input_ids=start).logits
        torch.testing.assert_close(merged(**inputs, decoder_input_ids=start).logits, logits)
        assert not torch.allclose(base(**inputs, decoder_input_ids=start).logits, logits, atol=1e-3)
