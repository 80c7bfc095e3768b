"""Rewrites asked of an OpenAI-compatible endpoint: tunesmith serve itself, on loopback (tunesmith.rewrite)."""

import pytest

from tunesmith.errors import DataError
from tunesmith.rewrite import EndpointGenerator
from tunesmith.rewrite.generators import ASK_MANY

from .conftest import API_KEY


def test_the_endpoint_generator_asks_the_served_model_and_splits_its_lines(tiny_server, client, monkeypatch):
    monkeypatch.setenv("REWRITE_KEY", API_KEY)
    generator = EndpointGenerator(f"{tiny_server[0]}/v1", "tiny", "REWRITE_KEY", max_tokens=16)  # tiny context
    questions = ["When do you open?", "Do you print posters?"]
    found = generator.candidates(questions, 3)
    assert len(found) == 2 and all(isinstance(line, str) and line.strip() == line for lines in found for line in lines)
    # what the server answers to the same request, split into lines (sampling at temperature 0.9 differs per call,
    # so the check is on the request reaching the run and the reply's shape, not on its words)
    reply = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": ASK_MANY.format(n=3, question=questions[0])}], max_tokens=8
    )
    assert reply.choices[0].message.content is not None
    assert generator.identity["base_url"].endswith("/v1") and "tiny" in generator.label


def test_a_wrong_key_or_a_dead_server_is_a_clear_error(tiny_server, monkeypatch):
    monkeypatch.setenv("REWRITE_KEY", "wrong")
    with pytest.raises(DataError, match="rewrite endpoint .* failed: AuthenticationError"):
        EndpointGenerator(f"{tiny_server[0]}/v1", "tiny", "REWRITE_KEY").candidates(["When do you open?"], 2)
    with pytest.raises(DataError, match="rewrite endpoint http://127.0.0.1:9/v1 failed"):
        EndpointGenerator("http://127.0.0.1:9/v1", "tiny").candidates(["When do you open?"], 2)
