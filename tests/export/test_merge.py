"""Merged and adapter exports of a finished tiny run: each loads with the plain library call and matches the run."""

import json

import pytest
import torch

from tunesmith.errors import ExportError
from tunesmith.export import export_run

PROMPT = "<|im_start|>user\nWhen do you open?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def base_plus_adapter(tiny_run_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_dir = json.loads((tiny_run_dir / "run.json").read_text())["parent"]["path"]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), tiny_run_dir / "adapter")
    return model.eval(), AutoTokenizer.from_pretrained(base_dir)


def logits(model, tokenizer):
    with torch.no_grad():
        return model(**tokenizer(PROMPT, return_tensors="pt")).logits


def test_merged_folder_loads_with_plain_transformers_and_gives_the_adapters_logits(
    tiny_run_dir, base_plus_adapter, tmp_path
):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    before = sorted(p.name for p in tiny_run_dir.rglob("*"))
    out = export_run(tiny_run_dir, "merged", tmp_path / "merged")
    assert sorted(p.name for p in tiny_run_dir.rglob("*")) == before  # the run folder is only read
    assert not (out / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template and "lora" not in " ".join(name for name, _ in merged.named_parameters())
    expected = logits(*base_plus_adapter)
    torch.testing.assert_close(logits(merged, tokenizer), expected, atol=1e-4, rtol=1e-4)
    base = base_plus_adapter[0].get_base_model()
    with base_plus_adapter[0].disable_adapter():
        assert not torch.allclose(logits(base, tokenizer), expected, atol=1e-3)  # the adapter did change something


def test_adapter_export_loads_with_peft_from_pretrained(tiny_run_dir, base_plus_adapter, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = export_run(tiny_run_dir, "adapter", tmp_path / "adapter")
    assert (out / "adapter_config.json").is_file() and (out / "tokenizer_config.json").is_file()
    base_dir = json.loads((tiny_run_dir / "run.json").read_text())["parent"]["path"]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), out).eval()
    torch.testing.assert_close(logits(model, base_plus_adapter[1]), logits(*base_plus_adapter))


def test_export_refuses_to_overwrite_and_rejects_unknown_formats(tiny_run_dir, tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(ExportError, match="already exists"):
        export_run(tiny_run_dir, "merged", tmp_path / "taken")
    with pytest.raises(ExportError, match="unknown export format"):
        export_run(tiny_run_dir, "onnx", tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_export_of_an_unfinished_run_is_a_clear_error(tiny_run_dir, tmp_path):
    from tunesmith.errors import RunError

    unfinished = tmp_path / "run"
    unfinished.mkdir()
    (unfinished / "run.json").write_text(json.dumps({"status": "running"}))
    with pytest.raises(RunError, match="not 'done'"):
        export_run(unfinished, "merged", tmp_path / "out")


def test_cli_export_writes_the_folder_and_reports_bad_input_cleanly(tiny_run_dir, tmp_path):
    from typer.testing import CliRunner

    from tunesmith.cli import app

    result = CliRunner().invoke(
        app, ["export", str(tiny_run_dir), "--format", "adapter", "--out", str(tmp_path / "a")]
    )
    assert result.exit_code == 0, result.output
    assert "adapter export written to" in result.output and (tmp_path / "a" / "adapter_config.json").is_file()
    with pytest.raises(ExportError, match="unknown export format"):
        CliRunner().invoke(app, ["export", str(tiny_run_dir), "--format", "x"], catch_exceptions=False)
    by_name = ["export", "current", "--runs-dir", str(tiny_run_dir.parent), "--format", "adapter", "--out"]
    result = CliRunner().invoke(app, [*by_name, str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / "adapter_config.json").read_bytes() == (
        tiny_run_dir / "adapter" / "adapter_config.json"
    ).read_bytes()


def test_a_continued_run_exports_from_its_parents_merged_model(tiny_run_dir, tiny_model_dir, tmp_path):
    """A run that continued another was trained on the parent's merged lineage (run.json parent.model_path)."""
    import shutil

    from tunesmith.export import open_finished_run

    lineage_model = shutil.copytree(tiny_model_dir, tmp_path / "merged-lineage")
    child = shutil.copytree(tiny_run_dir, tmp_path / "child", ignore=shutil.ignore_patterns("checkpoints"))
    record = json.loads((child / "run.json").read_text())
    record["parent"] = {
        "kind": "run",
        "name": tiny_run_dir.name,
        "path": str(tiny_run_dir),
        "model_path": str(lineage_model),
    }
    (child / "run.json").write_text(json.dumps(record))
    assert open_finished_run(child).base_dir == lineage_model


def test_an_embedding_run_exports_its_sentence_model_and_refuses_gguf(tmp_path, tiny_bert_dir):
    import shutil

    run = tmp_path / "embed-run"
    shutil.copytree(tiny_bert_dir, run / "model")
    (run / "run.json").write_text(json.dumps({"status": "done"}))
    (run / "config.yaml").write_text("name: e\ntask: embedding\n")
    with pytest.raises(ExportError, match="not a text generation model"):
        export_run(run, "gguf", tmp_path / "out.gguf")
    with pytest.raises(ExportError, match="trained the whole model"):
        export_run(run, "adapter", tmp_path / "adapter")
    out = export_run(run, "merged", tmp_path / "out")
    assert sorted(p.name for p in out.rglob("*")) == sorted(p.name for p in (run / "model").rglob("*"))
    assert not (tmp_path / "out.gguf").exists() and not (tmp_path / "adapter").exists()
