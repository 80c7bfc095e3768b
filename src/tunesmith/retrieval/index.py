"""A hybrid passage index: dense vectors (faiss) and BM25 (bm25s), fused by reciprocal rank fusion.

Why both: a sentence encoder matches meaning but blurs exact strings; course codes, numbers and names ("CSC 450",
"3 credit hours") embed almost alike across similar passages. BM25 matches those strings exactly but misses
paraphrases. Reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009) adds ``1 / (k + rank)`` from each
list: it needs no score calibration between cosine and BM25, and k=60 is the paper's value.

The dense vectors live in faiss, in the index folder, unless a :class:`~tunesmith.retrieval.qdrant.QdrantStore` is
given to :meth:`HybridIndex.build` (a Qdrant collection, for knowledge bases that outgrow one machine).

faiss, bm25s and numpy are imported inside the functions that use them, so importing this module stays cheap.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.atomic import save_folder
from tunesmith.errors import DataError, ModelError
from tunesmith.retrieval.passages import Passage

if TYPE_CHECKING:
    import numpy as np

RRF_K = 60
MODES = ("dense", "lexical", "hybrid")
CANDIDATES = 100  # how deep each list is read before fusing
RERANK_DEPTH = 20  # candidates a reranker re-orders per query (a cross-encoder reads each one with the query)
# bm25s's default pattern \w\w+ drops one-character tokens ("3 credit hours"); \w+ keeps every number and code.
# Text is lowercased: "CSC" is the token "csc".
TOKEN_PATTERN = r"(?u)\b\w+\b"
STOPWORDS = "en"
# A fixed text encoded at build time and again at load: the same weights give the same vector up to float noise
# (fp32 on another device or batch stays above this cosine); another model, or the same one tuned further, does
# not: three steps of tuning MiniLM on 12 questions already moved it to 0.99958.
PROBE = "Retrieval probe: CSC 450 Operating Systems, 3 credit hours, taught every spring."
SAME_ENCODER_COSINE = 0.99999
FORMAT = 1
FAISS = {"store": "faiss"}  # the record's "dense" for the default: dense.faiss in the index folder


@dataclass(frozen=True)
class Hit:
    """One retrieved passage. ``score``: the mode's score (RRF sum, cosine or BM25); ranks are 1-based, None
    when the passage is not among that list's top candidates (or that list was not searched in this mode)."""

    passage: Passage
    score: float
    dense_rank: int | None
    lexical_rank: int | None


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """The lexical tokens of each text, as the BM25 index sees them (lowercased, English stopwords removed)."""
    import bm25s

    return bm25s.tokenize(
        list(texts), token_pattern=TOKEN_PATTERN, stopwords=STOPWORDS, return_ids=False, show_progress=False
    )


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked lists of item numbers (best first): each list gives ``1 / (k + rank)``, rank from 1.

    Returns (item, fused score), best first; ties keep the order in which items were first seen.
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def encoder_name(encoder: Any) -> str:
    """The name or folder the encoder was loaded from (for messages and the saved record)."""
    card = getattr(getattr(encoder, "model_card_data", None), "base_model", None)
    if card:
        return str(card)
    try:
        return str(encoder[0].auto_model.config._name_or_path)
    except (AttributeError, IndexError, KeyError, TypeError):
        return getattr(encoder, "name", None) or type(encoder).__name__


class HybridIndex:
    """Passages with a dense (faiss, or a Qdrant collection) and a lexical (bm25s) index over them; see
    :meth:`build` and :meth:`load`."""

    def __init__(self, passages: list[Passage], encoder: Any, dense: Any, lexical: Any, record: dict) -> None:
        self.passages = passages
        self.encoder = encoder
        self._dense = dense
        self._lexical = lexical
        self.record = record  # what save writes to index.json: the encoder (name, dimension, probe), where dense is
        self.reranker: Any = None  # a cross-encoder that re-orders the top candidates (see use_reranker)

    @property
    def mode(self) -> str:
        """How :meth:`search` ranks unless told otherwise: ``hybrid`` (an index from before the choice existed too)
        or what :meth:`use_mode` set; saved with the index, so a served question is ranked as scored ones were."""
        return self.record.get("mode", "hybrid")

    def use_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.record["mode"] = mode

    def use_reranker(self, reranker: Any, name: str, depth: int = RERANK_DEPTH) -> None:
        """Re-order each search's top ``depth`` candidates (of the index's ranking) by ``reranker`` (a
        sentence-transformers CrossEncoder, or anything whose ``predict`` scores (query, passage) pairs, higher
        = more relevant); the name and depth are saved in index.json, the model is not (see tasks.rag)."""
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.reranker = reranker
        self.record["reranker"] = {"name": name, "depth": depth}

    def __len__(self) -> int:
        return len(self.passages)

    @classmethod
    def build(cls, passages: Sequence[Passage], encoder: Any, batch_size: int = 64, store: Any = None) -> HybridIndex:
        """Encode and index ``passages`` with a loaded SentenceTransformer (any object with ``encode_document``
        and ``encode_query`` returning arrays does). A text given twice is kept once (the first); one id
        given to two different texts is an error. ``store``: an empty
        :class:`~tunesmith.retrieval.qdrant.QdrantStore` to hold the dense vectors; None: faiss."""
        import bm25s
        import faiss

        first: dict[str, Passage] = {}
        for passage in passages:
            kept = first.setdefault(passage.id, passage)
            if kept.text != passage.text:
                raise DataError(f"passage id '{passage.id}' names two texts: {kept.source} and {passage.source}")
        unique = list(first.values())
        if not unique:
            raise DataError("no passages to index")
        vectors = _encode(encoder.encode_document, [p.text for p in unique], batch_size)
        # Exact search: at up to ~100k passages (147 MB of 384-dim float32) a brute-force inner-product scan takes
        # milliseconds per query, so an approximate index (IVF, HNSW) would cost recall and a training step for
        # no gain worth having.
        dense = faiss.IndexFlatIP(vectors.shape[1]) if store is None else store
        dense.add(vectors)
        lexical = bm25s.BM25()
        lexical.index(
            bm25s.tokenize(
                [p.text for p in unique], token_pattern=TOKEN_PATTERN, stopwords=STOPWORDS, show_progress=False
            ),
            show_progress=False,
        )
        probe = _encode(encoder.encode_document, [PROBE], 1)[0]
        record = {
            "format": FORMAT,
            "encoder": {"name": encoder_name(encoder), "dimension": int(vectors.shape[1]), "probe": probe.tolist()},
            "passages": len(unique),
            "rrf_k": RRF_K,
            "token_pattern": TOKEN_PATTERN,
            "stopwords": STOPWORDS,
            "dense": FAISS if store is None else store.describe(),
        }
        return cls(unique, encoder, dense, lexical, record)

    def search(
        self, queries: Sequence[str], k: int, mode: str | None = None, candidates: int = CANDIDATES
    ) -> list[list[Hit]]:
        """The top ``k`` passages for each query.

        ``mode`` (default: the index's :attr:`mode`): ``hybrid`` fuses the dense and the lexical list (each read
        ``max(k, candidates)`` deep) by RRF; ``dense`` or ``lexical`` ranks by that list alone. A lexical list
        holds only passages that share a token with the query.
        """
        mode = self.mode if mode is None else mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        queries = list(queries)
        if not queries:
            return []
        shown = max(k, self.record["reranker"]["depth"]) if self.reranker is not None else k
        depth = min(max(shown, candidates) if mode == "hybrid" else shown, len(self.passages))
        dense = self._dense_lists(queries, depth) if mode != "lexical" else [[] for _ in queries]
        lexical = self._lexical_lists(queries, depth) if mode != "dense" else [[] for _ in queries]
        ranked_lists = []
        for dense_list, lexical_list in zip(dense, lexical):
            if mode == "hybrid":
                ranked = reciprocal_rank_fusion([[i for i, _ in dense_list], [i for i, _ in lexical_list]])
            else:
                ranked = dense_list if mode == "dense" else lexical_list
            ranked_lists.append(ranked[:shown])
        if self.reranker is not None:
            ranked_lists = self._rerank(queries, ranked_lists)
        results = []
        for dense_list, lexical_list, ranked in zip(dense, lexical, ranked_lists):
            dense_rank = {item: rank for rank, (item, _) in enumerate(dense_list, start=1)}
            lexical_rank = {item: rank for rank, (item, _) in enumerate(lexical_list, start=1)}
            results.append(
                [
                    Hit(self.passages[item], float(score), dense_rank.get(item), lexical_rank.get(item))
                    for item, score in ranked[:k]
                ]
            )
        return results

    def _rerank(
        self, queries: list[str], ranked_lists: list[list[tuple[int, float]]]
    ) -> list[list[tuple[int, float]]]:
        """Each query's candidates re-ordered by the reranker's score of (query, passage), which becomes the hit's
        score; every pair of every query is scored in one call (batched by the model)."""
        pairs = [
            (query, self.passages[item].text) for query, ranked in zip(queries, ranked_lists) for item, _ in ranked
        ]
        scores = iter(self.reranker.predict(pairs, show_progress_bar=False) if pairs else [])
        reranked = []
        for ranked in ranked_lists:
            scored = [(item, float(next(scores))) for item, _ in ranked]
            reranked.append(sorted(scored, key=lambda pair: -pair[1]))
        return reranked

    def _dense_lists(self, queries: list[str], depth: int) -> list[list[tuple[int, float]]]:
        vectors = _encode(self.encoder.encode_query, queries, 64)
        scores, items = self._dense.search(vectors, depth)
        return [
            [(int(i), float(s)) for i, s in zip(row_items, row_scores) if i >= 0]
            for row_items, row_scores in zip(items, scores)
        ]

    def _lexical_lists(self, queries: list[str], depth: int) -> list[list[tuple[int, float]]]:
        items, scores = self._lexical.retrieve(tokenize(queries), k=depth, show_progress=False)
        # BM25 scores a passage above 0 only when it shares a query token: the rest are not in the list at all.
        return [
            [(int(i), float(s)) for i, s in zip(row_items, row_scores) if s > 0]
            for row_items, row_scores in zip(items, scores)
        ]

    def save(self, folder: str | Path) -> Path:
        """Write the index to a new ``folder`` (passages.jsonl, dense.faiss, bm25/, index.json), all at once:
        it is written beside the target and renamed into place, so a failure leaves no half-written folder.
        With a Qdrant store, ``qdrant/`` (local mode) or the server's collection stands for dense.faiss."""
        import faiss

        folder = Path(folder)
        if folder.exists():
            raise FileExistsError(f"{folder} already exists; save the index to a new folder")

        def write(staging: Path) -> None:
            with (staging / "passages.jsonl").open("w", encoding="utf-8") as handle:
                for passage in self.passages:
                    handle.write(json.dumps(asdict(passage), ensure_ascii=False) + "\n")
            if _store(self.record) == "faiss":
                faiss.write_index(self._dense, str(staging / "dense.faiss"))
            self._lexical.save(str(staging / "bm25"), show_progress=False)
            if _store(self.record) == "qdrant":  # last but the manifest: a failure before leaves no collection
                self._dense.save(staging)
            (staging / "index.json").write_text(json.dumps(self.record, indent=2) + "\n")

        save_folder(folder, write)
        return folder

    @classmethod
    def load(cls, folder: str | Path, encoder: Any) -> HybridIndex:
        """Read an index written by :meth:`save`; ``encoder`` must embed as the one that built it did.

        Raises:
            DataError: the folder is missing, incomplete, or its parts disagree.
            ModelError: ``encoder`` is not the encoder that built the index.
        """
        import bm25s
        import faiss

        folder = Path(folder)
        manifest = folder / "index.json"
        if not manifest.is_file():
            raise DataError(f"{folder}: not a saved index (no index.json)")
        record = json.loads(manifest.read_text())
        if record.get("format") != FORMAT:
            raise DataError(f"{folder}: index format {record.get('format')!r}, this tunesmith reads format {FORMAT}")
        if _store(record) not in ("faiss", "qdrant"):
            raise DataError(f"{folder}: dense vectors in '{_store(record)}'; this tunesmith reads faiss and qdrant")
        # the dense part: dense.faiss, Qdrant's local-mode folder, or nothing here (a collection on a server)
        dense_part = "dense.faiss" if _store(record) == "faiss" else record["dense"].get("path")
        parts = ("passages.jsonl", dense_part, "bm25")
        missing = [name for name in parts if name and not (folder / name).exists()]
        if missing:
            raise DataError(f"{folder}: incomplete index, missing {', '.join(missing)}")
        _check_encoder(folder, record["encoder"], encoder)
        passages = saved_passages(folder)
        if _store(record) == "faiss":
            dense = faiss.read_index(str(folder / "dense.faiss"))
        else:
            from tunesmith.retrieval.qdrant import QdrantStore

            dense = QdrantStore.open(folder, record["dense"], record["encoder"]["dimension"])
        lexical = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
        sizes = {len(passages), dense.ntotal, int(lexical.scores["num_docs"]), record["passages"]}
        if len(sizes) != 1:
            raise DataError(
                f"{folder}: passages, dense and lexical index disagree on the passage count {sorted(sizes)}"
            )
        return cls(passages, encoder, dense, lexical, record)


def saved_passages(folder: str | Path) -> list[Passage]:
    """The passages of an index written by :meth:`HybridIndex.save`, without its vectors (no encoder needed)."""
    path = Path(folder) / "passages.jsonl"
    if not path.is_file():
        raise DataError(f"{folder}: not a saved index (no passages.jsonl)")
    with path.open(encoding="utf-8") as handle:
        return [Passage(**json.loads(line)) for line in handle if line.strip()]


def _store(record: dict) -> str:
    """Where a record's dense vectors are: faiss (also every index saved before Qdrant was an option) or qdrant."""
    return record.get("dense", FAISS)["store"]


def _check_encoder(folder: Path, built: dict, encoder: Any) -> None:
    """Refuse an encoder whose vectors would not be comparable with the indexed ones."""
    import numpy as np

    probe = _encode(encoder.encode_document, [PROBE], 1)[0]
    stored = np.asarray(built["probe"], dtype="float32")
    same = probe.shape == stored.shape and float(probe @ stored) >= SAME_ENCODER_COSINE
    if not same:
        given = f"'{encoder_name(encoder)}' ({probe.shape[0]} dimensions)"
        raise ModelError(
            f"{folder}: this index was built with the encoder '{built['name']}' ({built['dimension']} dimensions); "
            f"the encoder given, {given}, embeds differently. Load it with the encoder that built it, or rebuild "
            "the index with this one."
        )


def _encode(encode: Any, texts: list[str], batch_size: int) -> np.ndarray:
    """Unit-length float32 rows, as faiss wants them: inner product is then cosine similarity."""
    import numpy as np

    vectors = encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return np.ascontiguousarray(vectors, dtype="float32")
