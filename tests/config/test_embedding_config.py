"""The embedding section: its defaults, its model default, and errors that name the key."""

import pytest

from tunesmith.config import config_from_dict, dump_config
from tunesmith.config.schema import DEFAULT_EMBEDDING_MODEL, DEFAULT_MODEL
from tunesmith.errors import ConfigError


def test_an_embedding_run_defaults_to_minilm_unless_a_model_is_named():
    config = config_from_dict({"task": "embedding", "data": {"train": "t.csv"}})
    assert config.model.name == DEFAULT_EMBEDDING_MODEL and config.embedding.matryoshka_dims is None
    named = config_from_dict({"task": "embedding", "model": {"name": "my/encoder"}, "data": {"train": "t.csv"}})
    assert named.model.name == "my/encoder"
    assert config_from_dict({"data": {"train": "t.csv"}}).model.name == DEFAULT_MODEL


def test_the_saved_config_reads_back_the_same():
    import yaml

    config = config_from_dict({"task": "embedding", "data": {"train": "t.csv"}, "embedding": {"simcse": "first"}})
    again = config_from_dict(yaml.safe_load(dump_config(config)))
    assert again == config


def test_hard_negatives_true_means_tfidf_and_a_saved_dense_config_reads_back():
    import yaml

    data = {"task": "embedding", "data": {"train": "t.csv"}}
    assert config_from_dict({**data, "embedding": {"hard_negatives": True}}).embedding.hard_negatives == "tfidf"
    assert config_from_dict({**data, "embedding": {"hard_negatives": False}}).embedding.hard_negatives == "off"
    dense = config_from_dict({**data, "embedding": {"hard_negatives": "dense", "negative_rounds": 2}})
    assert config_from_dict(yaml.safe_load(dump_config(dense))) == dense  # every default written out


@pytest.mark.parametrize(
    ("embedding", "message"),
    [
        ({"losss": "cosent"}, "embedding.losss: unknown key"),
        ({"loss": "triplet"}, "embedding.loss: Input should be"),
        ({"negative_band": [0.6, 0.4]}, "negative_band must satisfy 0 <= low < high <= 1"),
        ({"columns": {"query_text": "q"}}, "embedding.columns.query_text"),
        ({"matryoshka_dims": [128, 0]}, "matryoshka_dims must be positive"),
        ({"negative_margin": 0.1}, "negative_margin applies only to hard_negatives: dense"),
        ({"hard_negatives": "dense", "negative_band": [0.2, 0.4]}, "negative_band applies only to hard_negatives"),
        ({"hard_negatives": True, "negative_rounds": 2}, "negative_rounds applies only to hard_negatives: dense"),
        ({"hard_negatives": "bm25"}, "embedding.hard_negatives: Input should be"),
        ({"hard_negatives": "dense", "negative_rounds": 2, "curriculum": True}, "each curriculum phase already mines"),
    ],
)
def test_bad_embedding_settings_are_named(embedding, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        config_from_dict({"task": "embedding", "data": {"train": "t.csv"}, "embedding": embedding}, "run.yaml")
