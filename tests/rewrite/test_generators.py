"""Rewrite candidates from a local causal model (transformers), and the generator a config names."""

import pytest

from tunesmith.errors import ConfigError
from tunesmith.rewrite import EndpointGenerator, ModelGenerator, RulesGenerator, make_generator
from tunesmith.rewrite.generators import _clean


def test_a_local_model_samples_n_candidates_per_question_reproducibly(tiny_model_dir):
    generator = ModelGenerator(str(tiny_model_dir), seed=3)
    questions = ["When do you open?", "Do you print posters?", "What does a banner cost?"]
    first = generator.candidates(questions, 4)
    assert len(first) == 3 and all(len(lines) <= 4 for lines in first)
    assert all(isinstance(line, str) and len(line.split()) >= 2 for lines in first for line in lines)
    assert generator.candidates(questions, 4) == first  # the seed fixes the samples
    assert generator.identity["seed"] == 3 and generator.identity["model"] == str(tiny_model_dir)


def test_replies_lose_list_marks_quotes_and_labels():
    assert _clean('1. "How late are you open?"') == "How late are you open?"
    assert _clean("- Question: When do you close?") == "When do you close?"
    assert _clean("Sure!") == "" and _clean("   ") == ""


def test_the_generator_named_by_the_settings():
    assert isinstance(make_generator("rules", None, None, None), RulesGenerator)
    assert make_generator("model", None, None, None).model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    endpoint = make_generator("endpoint", "llama3.2", "http://localhost:11434/v1", None)
    assert isinstance(endpoint, EndpointGenerator) and endpoint.model == "llama3.2"
    with pytest.raises(ConfigError, match="base URL"):
        make_generator("endpoint", None, None, None)
