"""``model.trust_remote_code``: a model folder whose architecture lives in its own Python file (config.json's
``auto_map``) is refused unless the config allows it; allowed, the run trains on that code, and serve, export and
the Python API of the finished run load it again as its config says."""

import json
import shutil

import pytest
import yaml

from tunesmith.errors import ModelError, TunesmithError
from tunesmith.models.load import load_base_model, load_tokenizer

# A tiny "new architecture": Llama under another name, shipped as code beside the weights (as Phi-3, MPT or
# nomic-bert models once were). Loading it through transformers' Auto classes needs the file to be imported.
CAUSAL_CODE = """
from transformers import LlamaConfig, LlamaForCausalLM


class HomeLlamaConfig(LlamaConfig):
    model_type = "home-llama"


class HomeLlamaForCausalLM(LlamaForCausalLM):
    config_class = HomeLlamaConfig
"""

ENCODER_CODE = """
from transformers import BertConfig, BertModel


class HomeBertConfig(BertConfig):
    model_type = "home-bert"


class HomeBertModel(BertModel):
    config_class = HomeBertConfig
"""


def with_own_code(source, target, code: str, model_type: str, auto_map: dict):
    shutil.copytree(source, target)
    module = f"{model_type.replace('-', '_')}_code"
    (target / f"{module}.py").write_text(code)
    config = json.loads((target / "config.json").read_text())
    config["auto_map"] = {auto: f"{module}.{name}" for auto, name in auto_map.items()}
    config["model_type"] = model_type
    config["architectures"] = [auto_map.get("AutoModelForCausalLM") or auto_map["AutoModel"]]
    (target / "config.json").write_text(json.dumps(config))
    return target


@pytest.fixture(scope="module")
def home_llama(tmp_path_factory, tiny_model_dir):
    auto_map = {"AutoConfig": "HomeLlamaConfig", "AutoModelForCausalLM": "HomeLlamaForCausalLM"}
    return with_own_code(
        tiny_model_dir, tmp_path_factory.mktemp("own") / "home-llama", CAUSAL_CODE, "home-llama", auto_map
    )


def test_the_folders_code_runs_only_when_allowed(home_llama):
    with pytest.raises(ModelError, match=r"trust_remote_code: true"):
        load_base_model(home_llama)
    model = load_base_model(home_llama, trust_remote_code=True)
    assert type(model).__name__ == "HomeLlamaForCausalLM"
    assert load_tokenizer(home_llama, trust_remote_code=True).eos_token is not None


def test_a_sentence_model_with_its_own_code_loads_only_when_allowed(tmp_path, tiny_bert_dir):
    from tunesmith.tasks.embedding import load_sentence_model

    auto_map = {"AutoConfig": "HomeBertConfig", "AutoModel": "HomeBertModel"}
    folder = with_own_code(tiny_bert_dir, tmp_path / "home-bert", ENCODER_CODE, "home-bert", auto_map)
    with pytest.raises(Exception, match="trust_remote_code"):
        load_sentence_model(folder)
    model = load_sentence_model(folder, trust_remote_code=True)
    assert type(model[0].auto_model).__name__ == "HomeBertModel"
    assert model.encode(["a ticket about the VPN"]).shape == (1, model.get_sentence_embedding_dimension())


def test_a_run_on_a_model_with_its_own_code_trains_serves_and_exports_when_the_config_allows_it(tmp_path, home_llama):
    from tests.e2e.test_cli import make_config
    from tunesmith import api
    from tunesmith.config import load_config
    from tunesmith.export import export_run
    from tunesmith.pipeline import train_run
    from tunesmith.serve import load_served

    path = make_config(tmp_path, home_llama, training={"epochs": 1, "bf16": False})
    with pytest.raises(TunesmithError, match="trust_remote_code"):
        train_run(load_config(path))
    assert not list((tmp_path / "runs").glob("*/run.json"))  # refused while planning, before a run folder
    raw = yaml.safe_load(path.read_text())
    raw["model"]["trust_remote_code"] = True
    path.write_text(yaml.safe_dump(raw))
    run = train_run(load_config(path))
    assert json.loads((run.path / "metrics.json").read_text())["tuned"]["overall"]["n"] > 0

    served = load_served(run.path)
    assert type(served.model).__name__ == "HomeLlamaForCausalLM"
    model, _ = api.load(run.path)
    assert type(model).__name__ == "HomeLlamaForCausalLM"
    merged = export_run(run.path, "merged", tmp_path / "merged")
    assert json.loads((merged / "config.json").read_text())["model_type"] == "home-llama"
    with pytest.raises(ModelError, match="trust-remote-code"):
        load_served(merged)
    assert type(load_served(merged, trust_remote_code=True).model).__name__ == "HomeLlamaForCausalLM"


def test_code_shipped_for_an_architecture_transformers_has_is_not_needed(tmp_path, tiny_model_dir, home_llama):
    from tunesmith.models.load import check_remote_code

    # as Phi-3's folders ship: auto_map to their own file, but a model_type transformers implements itself
    auto_map = {"AutoConfig": "LlamaConfig", "AutoModelForCausalLM": "LlamaForCausalLM"}
    folder = with_own_code(
        tiny_model_dir, tmp_path / "adopted", "raise SystemExit('never imported')", "llama", auto_map
    )
    check_remote_code(folder, trust_remote_code=False)
    assert type(load_base_model(folder)).__name__ == "LlamaForCausalLM"
    with pytest.raises(ModelError, match=r"'home-llama'.*home_llama_code\.py.*trust_remote_code: true"):
        check_remote_code(home_llama, trust_remote_code=False)
    check_remote_code(home_llama, trust_remote_code=True)
