"""The hybrid index with a small hashing encoder (fast, no model): fusion, modes, save/load, encoder checks."""

import numpy as np
import pytest

from tests.retrieval.encoders import HashingEncoder
from tunesmith.errors import DataError, ModelError
from tunesmith.retrieval import HybridIndex, reciprocal_rank_fusion, tokenize
from tunesmith.retrieval.passages import Passage, make_passage

PASSAGES = [
    make_passage(text, f"kb.md#{number}")
    for number, text in enumerate(
        [
            "CSC 450 Operating Systems: processes, threads and scheduling, 3 credit hours.",
            "CSC 455 Distributed Systems: replication and consensus, 4 credit hours.",
            "The library opens at 8 in the morning and closes at midnight.",
            "Graduate admissions close on 1 March; late applications are read if places remain.",
            "The cafeteria serves breakfast, lunch and dinner on weekdays.",
        ]
    )
]
QUERIES = ["operating systems scheduling", "when does the library close", "CSC 455 credit hours", "admissions"]


@pytest.fixture(scope="module")
def index():
    return HybridIndex.build(PASSAGES, HashingEncoder())


def test_rrf_adds_one_over_k_plus_rank_from_each_list():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    assert [item for item, _ in fused] == [1, 3, 2, 4]
    assert [score for _, score in fused] == pytest.approx([1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62, 1 / 63])
    # second in both lists beats first in one list and absent from the other
    assert [item for item, _ in reciprocal_rank_fusion([[1, 2], [3, 2]])][0] == 2
    # equal sums keep the order in which the items were first seen
    assert [item for item, _ in reciprocal_rank_fusion([[7, 8], [8, 7]])] == [7, 8]


def test_numbers_and_course_codes_stay_lexical_tokens():
    assert tokenize(["CSC 450 is worth 3 credit hours, not 4."]) == [
        ["csc", "450", "worth", "3", "credit", "hours", "4"]
    ]


def test_hits_carry_the_passage_fused_score_and_both_ranks(index):
    [hits] = index.search(["CSC 455 credit hours"], k=3)
    assert hits[0].passage == PASSAGES[1] and hits[0].dense_rank == 1 and hits[0].lexical_rank == 1
    assert hits[0].score == pytest.approx(2 / 61)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    [lexical] = index.search(["CSC 455 credit hours"], k=5, mode="lexical")
    assert {h.passage.id for h in lexical} == {PASSAGES[0].id, PASSAGES[1].id}  # only passages sharing a token
    assert all(h.dense_rank is None for h in lexical)
    [dense] = index.search(["CSC 455 credit hours"], k=5, mode="dense")
    assert len(dense) == 5 and all(h.lexical_rank is None for h in dense)
    assert dense[0].score == pytest.approx(
        float(
            np.dot(*HashingEncoder()._encode(["CSC 455 credit hours", PASSAGES[1].text], normalize_embeddings=True))
        ),
        abs=1e-6,
    )
    # a query sharing no token with any passage (or only stopwords) has an empty lexical list
    assert index.search(["the", "zzzq"], k=3, mode="lexical") == [[], []]
    assert [h.lexical_rank for h in index.search(["the"], k=3)[0]] == [None, None, None]
    assert index.search([], k=3) == []
    with pytest.raises(ValueError, match="mode must be one of"):
        index.search(["x"], k=1, mode="sparse")


def test_duplicate_passages_are_indexed_once():
    twice = HybridIndex.build([*PASSAGES, make_passage(PASSAGES[0].text, "other.md")], HashingEncoder())
    assert len(twice) == len(PASSAGES) and twice.passages[0].source == "kb.md#0"
    clash = [PASSAGES[0], Passage(PASSAGES[0].id, "another text", "kb.jsonl:7")]
    with pytest.raises(DataError, match=f"passage id '{PASSAGES[0].id}' names two texts: kb.md#0 and kb.jsonl:7"):
        HybridIndex.build(clash, HashingEncoder())
    with pytest.raises(DataError, match="no passages"):
        HybridIndex.build([], HashingEncoder())


def test_save_and_load_give_identical_search_results(index, tmp_path):
    folder = index.save(tmp_path / "kb-index")
    assert sorted(path.name for path in folder.iterdir()) == ["bm25", "dense.faiss", "index.json", "passages.jsonl"]
    loaded = HybridIndex.load(folder, HashingEncoder())
    assert loaded.passages == index.passages
    for mode in ("hybrid", "dense", "lexical"):
        assert loaded.search(QUERIES, k=3, mode=mode) == index.search(QUERIES, k=3, mode=mode)
    assert loaded.mode == "hybrid"
    index.use_mode("dense")  # the ranking chosen for a run travels with its index, to serve
    dense = HybridIndex.load(index.save(tmp_path / "dense-index"), HashingEncoder())
    assert dense.mode == "dense" and dense.search(QUERIES, k=3) == index.search(QUERIES, k=3, mode="dense")
    with pytest.raises(FileExistsError, match="already exists"):
        index.save(folder)
    (folder / "dense.faiss").unlink()
    with pytest.raises(DataError, match="incomplete index, missing dense.faiss"):
        HybridIndex.load(folder, HashingEncoder())


def test_a_failed_save_leaves_no_half_written_folder(index, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(index._lexical, "save", broken)  # after passages and the faiss index are written
    with pytest.raises(OSError, match="disk full"):
        index.save(tmp_path / "kb-index")
    assert list(tmp_path.iterdir()) == []


def test_loading_with_another_encoder_is_refused(index, tmp_path):
    folder = index.save(tmp_path / "kb-index")
    with pytest.raises(ModelError, match=r"built with the encoder 'hashing-64' \(64 dimensions\).*'hashing-32'"):
        HybridIndex.load(folder, HashingEncoder(dimension=32))
    with pytest.raises(ModelError, match="embeds differently"):
        HybridIndex.load(folder, HashingEncoder(salt="tuned"))  # same size, other weights
    with pytest.raises(DataError, match="not a saved index"):
        HybridIndex.load(tmp_path, HashingEncoder())


class KeywordReranker:
    """A stand-in cross-encoder: a passage scores 1 per query word it holds, plus 10 when it names ``favourite``."""

    def __init__(self, favourite):
        self.favourite, self.seen = favourite, []

    def predict(self, pairs, show_progress_bar=None):
        self.seen.append(list(pairs))
        return np.array(
            [sum(w in text.lower() for w in q.split()) + 10 * (self.favourite in text) for q, text in pairs]
        )


def test_a_reranker_reorders_the_top_candidates_and_its_score_is_the_hits(tmp_path):
    index = HybridIndex.build(PASSAGES, HashingEncoder())
    before = index.search(["CSC 455 credit hours"], 5)[0]
    reranker = KeywordReranker("cafeteria")
    index.use_reranker(reranker, "keyword", depth=5)
    hits = index.search(["CSC 455 credit hours"], 2)[0]
    assert "cafeteria" in hits[0].passage.text and hits[0].score >= 10  # re-ordered by the reranker's score
    assert hits[1].passage == before[0].passage and hits[0].dense_rank is not None  # the lists' ranks kept
    assert len(reranker.seen[-1]) == 5  # it read the top 5 of the fused ranking, not only the 2 returned
    assert index.record["reranker"] == {"name": "keyword", "depth": 5}

    index.use_reranker(KeywordReranker("cafeteria"), "keyword", depth=2)
    shallow = index.search(["CSC 455 credit hours"], 2)[0]  # the cafeteria passage is not among the top 2
    assert {hit.passage for hit in shallow} == {hit.passage for hit in before[:2]}

    index.save(tmp_path / "index")
    loaded = HybridIndex.load(tmp_path / "index", HashingEncoder())
    assert loaded.record["reranker"] == {"name": "keyword", "depth": 2} and loaded.reranker is None
