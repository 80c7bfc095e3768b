"""The dense side of the hybrid index in a Qdrant collection, for knowledge bases that outgrow one machine.

:class:`~tunesmith.retrieval.index.HybridIndex` uses three things of a faiss index: ``add(vectors)``,
``search(vectors, k) -> (scores, ids)`` and ``ntotal``. :class:`QdrantStore` gives the same three over a Qdrant
collection (point id = the passage's number, vectors unit length, dot product = cosine, as in faiss), so the
lexical side (bm25s), the fusion and the saved passages stay as they are.

Building writes nothing outside the process: the vectors go to an in-memory Qdrant (qdrant-client's local mode),
since every process of a distributed run, and ``tunesmith plan``, loads the data and so builds the index. Saving
copies the collection to the server (``url``) or, without one, to qdrant-client's on-disk local mode in the index
folder (``qdrant/``); index.json records the collection, the URL or folder, and the name of the environment
variable that holds the API key, never the key.

Search is exact in local mode, as in faiss; a server searches a collection by HNSW (approximate) once it has
indexed it, past its indexing threshold, which is what lets it hold more than one machine's brute force can scan.

qdrant-client is imported inside the functions that use it (the ``qdrant`` extra).
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy as np

LOCAL_FOLDER = "qdrant"  # qdrant-client's local mode on disk, inside the index folder, when there is no server
BATCH = 256  # points (or queries) a request: ~1 MB of 384-dim vectors as JSON, far below the server's 32 MB limit
TIMEOUT = 60  # seconds a request may take


class QdrantStore:
    """A Qdrant collection holding one unit vector per passage, point id = the passage's number."""

    def __init__(
        self, client: Any, collection: str, url: str | None, api_key_env: str | None, where: str = "Qdrant local mode"
    ) -> None:
        self.client = client
        # closed with the store, or at exit while modules still import: local mode's close() imports portalocker
        # to release its folder lock, and fails noisily when the garbage collector gets to it at shutdown.
        weakref.finalize(self, client.close)
        self.collection = collection
        self.url = url  # the server the collection is saved to and read from; None: local mode in the index folder
        self.api_key_env = api_key_env
        self.where = where  # what the client talks to, for messages

    @classmethod
    def for_build(cls, collection: str, url: str | None = None, api_key_env: str | None = None) -> QdrantStore:
        """An empty in-memory store for :meth:`HybridIndex.build`; saving the index publishes it to ``url`` or
        to the index folder. The server is asked now whether it can take ``collection``, so that a wrong URL, key
        or name fails before the encoder is tuned, not after.

        Raises:
            ConfigError: the collection already exists on the server, or the API key is missing or refused.
            DataError: the server cannot be reached.
        """
        QdrantClient = _qdrant().QdrantClient

        if url is not None:
            server = _server(url, api_key_env)
            try:
                with _errors(f"the Qdrant server at {url}"):
                    taken = server.collection_exists(collection)
            finally:
                server.close()
            if taken:
                raise ConfigError(_taken(collection, url))
        return cls(QdrantClient(location=":memory:"), collection, url, api_key_env)

    @classmethod
    def open(cls, folder: Path, record: dict, dimension: int) -> QdrantStore:
        """The store a saved index's ``record`` (its index.json ``dense``) names, checked to hold vectors of
        ``dimension`` numbers.

        Raises:
            DataError: the server cannot be reached, the local store is in use, the collection is missing, or
                its vectors have another size.
        """
        QdrantClient = _qdrant().QdrantClient

        url, name = record.get("url"), record["collection"]
        where = f"the Qdrant server at {url}" if url else f"Qdrant local mode in {folder / record['path']}"
        with _errors(where):
            client = (
                _server(url, record.get("api_key_env")) if url else QdrantClient(path=str(folder / record["path"]))
            )
        try:
            with _errors(where):
                if not client.collection_exists(name):
                    raise DataError(f"{folder}: the index's Qdrant collection '{name}' is missing from {where}")
                size = client.get_collection(name).config.params.vectors.size
            if size != dimension:
                raise DataError(
                    f"{folder}: the Qdrant collection '{name}' ({where}) holds vectors of {size} numbers; the index "
                    f"was built with {dimension}"
                )
        except DataError:
            client.close()  # local mode: let go of the folder's lock
            raise
        return cls(client, name, url, record.get("api_key_env"), where)

    def describe(self) -> dict:
        """Where the saved index finds its vectors: written to index.json (an environment variable's name, not
        the key)."""
        place = {"url": self.url, "api_key_env": self.api_key_env} if self.url else {"path": LOCAL_FOLDER}
        return {"store": "qdrant", "collection": self.collection, **place}

    @property
    def ntotal(self) -> int:
        with _errors(self.where):
            return self.client.count(self.collection, exact=True).count

    def add(self, vectors: np.ndarray) -> None:
        """Create the collection and upsert ``vectors`` (unit length, float32), point ids from 0."""
        with _errors(self.where):
            _fill(self.client, self.collection, int(vectors.shape[1]), _batches(vectors))

    def search(self, vectors: np.ndarray, k: int) -> tuple[list[list[float]], list[list[int]]]:
        """The ``k`` best points for each query vector, as faiss gives them: (scores, ids), a row per query."""
        from qdrant_client import models

        scores: list[list[float]] = []
        ids: list[list[int]] = []
        with _errors(self.where):
            for start in range(0, len(vectors), BATCH):
                requests = [models.QueryRequest(query=row.tolist(), limit=k) for row in vectors[start : start + BATCH]]
                for answer in self.client.query_batch_points(self.collection, requests, timeout=TIMEOUT):
                    scores.append([point.score for point in answer.points])
                    ids.append([int(point.id) for point in answer.points])
        return scores, ids

    def save(self, folder: Path) -> None:
        """Copy the collection to the server, or to local mode in ``folder`` (the index's folder being written)."""
        from qdrant_client import QdrantClient

        target = _server(self.url, self.api_key_env) if self.url else QdrantClient(path=str(folder / LOCAL_FOLDER))
        where = f"the Qdrant server at {self.url}" if self.url else "the index folder"
        try:
            with _errors(where):
                if self.url and target.collection_exists(self.collection):  # made since the build checked
                    raise ConfigError(_taken(self.collection, self.url))
                size = self.client.get_collection(self.collection).config.params.vectors.size
                _fill(target, self.collection, size, self._pages())
        finally:
            target.close()  # local mode holds a lock on its folder, which is renamed into place next

    def _pages(self) -> Iterator[tuple[list[int], list[list[float]]]]:
        offset = 0
        while offset is not None:
            records, offset = self.client.scroll(
                self.collection, limit=BATCH, offset=offset, with_payload=False, with_vectors=True
            )
            yield [int(record.id) for record in records], [record.vector for record in records]


def _fill(client: Any, collection: str, size: int, pages: Iterator[tuple[list[int], list]]) -> None:
    from qdrant_client import models

    # DOT: the vectors are unit length already (faiss's inner product); COSINE would renormalize every one.
    client.create_collection(collection, vectors_config=models.VectorParams(size=size, distance=models.Distance.DOT))
    for ids, vectors in pages:
        if ids:
            client.upsert(collection, points=models.Batch(ids=ids, vectors=vectors), wait=True)


def _batches(vectors: np.ndarray) -> Iterator[tuple[list[int], list[list[float]]]]:
    for start in range(0, len(vectors), BATCH):
        rows = vectors[start : start + BATCH]
        yield list(range(start, start + len(rows))), rows.tolist()


def _qdrant() -> Any:
    try:
        import qdrant_client
    except ImportError as error:
        raise ConfigError(
            "retrieval.store qdrant needs qdrant-client, which is not installed: pip install 'tunesmith[qdrant]'"
        ) from error
    return qdrant_client


def _server(url: str, api_key_env: str | None) -> Any:
    from qdrant_client import QdrantClient

    key = None
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise ConfigError(
                f"retrieval.qdrant_api_key_env: the environment variable {api_key_env} (the Qdrant server's API "
                "key) is not set"
            )
    # check_compatibility asks the server's version on connecting and only warns when it gets none; the first
    # real request says clearly what is wrong instead.
    return QdrantClient(url=url, api_key=key, timeout=TIMEOUT, check_compatibility=False)


def _taken(collection: str, url: str) -> str:
    return (
        f"retrieval.qdrant_collection: the collection '{collection}' already exists on the Qdrant server at {url}; "
        "tunesmith never overwrites one (a served run may read it): name another, or delete that one"
    )


@contextmanager
def _errors(where: str) -> Iterator[None]:
    """qdrant-client's failures as one tunesmith error that says where, not a traceback."""
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    try:
        yield
    except UnexpectedResponse as error:  # the server answered with an error status
        if error.status_code in (401, 403):
            raise ConfigError(
                f"{where} refused the API key ({error.status_code}); set retrieval.qdrant_api_key_env to the "
                "environment variable that holds the right one"
            ) from error
        raise DataError(f"{where} answered {error.status_code} {error.reason_phrase}: {_reason(error)}") from error
    except ResponseHandlingException as error:  # no answer: the server is down, the URL is wrong, or it timed out
        raise DataError(f"cannot reach {where}: {error.source or error}; is the server running?") from error
    except RuntimeError as error:  # local mode: its folder is open in another process
        raise DataError(f"{where}: {error}") from error


def _reason(error: Any) -> str:
    try:
        return str(json.loads(error.content)["status"]["error"])
    except (ValueError, KeyError, TypeError):
        return error.content.decode(errors="replace")[:200]
