"""The retrieval layer: passages (the knowledge base), a hybrid dense + BM25 index, and retrieval scores.

Heavy libraries (faiss, bm25s, sentence-transformers) load only when an index is built, searched or read.
"""

from tunesmith.retrieval.index import Hit, HybridIndex, reciprocal_rank_fusion, tokenize
from tunesmith.retrieval.metrics import mrr, recall_at_k
from tunesmith.retrieval.passages import Passage, passages_from_documents, passages_from_examples

__all__ = [
    "Hit",
    "HybridIndex",
    "Passage",
    "mrr",
    "passages_from_documents",
    "passages_from_examples",
    "recall_at_k",
    "reciprocal_rank_fusion",
    "tokenize",
]
