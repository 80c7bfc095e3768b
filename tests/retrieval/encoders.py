"""A stand-in sentence encoder for tests that need no model."""

import hashlib
import re

import numpy as np


class HashingEncoder:
    """Bag of words hashed into ``dimension`` buckets: deterministic, and enough to rank by shared words."""

    def __init__(self, dimension=64, salt=""):
        self.dimension, self.salt, self.name = dimension, salt, f"hashing-{dimension}{salt}"

    def _encode(self, texts, batch_size=32, normalize_embeddings=False, convert_to_numpy=True, show_progress_bar=None):
        vectors = np.zeros((len(texts), self.dimension), dtype="float32")
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                vectors[row, int(hashlib.md5((self.salt + word).encode()).hexdigest(), 16) % self.dimension] += 1
        if normalize_embeddings:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    encode_document = encode_query = _encode
