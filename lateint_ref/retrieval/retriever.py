"""``Retriever``: an encoder joined to an on-disk index (spec/retriever.md).

Indexing streams ``(id, text)`` pairs in chunks: the first chunk creates the index (and trains its
centroids), each later chunk is added as a new segment, and every chunk is committed atomically
with the texts it holds. An interrupted run leaves the index at its last committed chunk; running
``Retriever.build`` again with the same model continues after it.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref.encoding.encoder import Encoder
from lateint_ref.encoding.folder import read_folder
from lateint_ref.errors import InputError
from lateint_ref.index import Hits, Index
from lateint_ref.progress import Progress
from lateint_ref.scoring import maxsim

FORMAT = "lateint-retriever/1"
DEFAULT_COMMIT_EVERY = 10_000
TEXTS = "texts-{generation}.jsonl"


def _is_late_interaction(model: Path) -> bool:
    """A PyLate folder or a Stanford checkpoint, as the one reader of model folders says; any
    other model folder is a bare backbone to be given a seeded projection (R-RET-2). A malformed
    folder raises the reader's WeightsError."""
    return read_folder(model).kind != "backbone"


def _model_settings(
    model_dir: str | os.PathLike[str], seed: int, embedding_size: int
) -> dict[str, Any]:
    """What the index records of its model (R-RET-2)."""
    model = Path(model_dir).resolve()
    if not model.is_dir():
        raise InputError(f"R-RET-2: model folder not found: {model}")
    if _is_late_interaction(model):
        return {"format": FORMAT, "model": str(model), "loader": "pretrained"}
    return {
        "format": FORMAT,
        "model": str(model),
        "loader": "backbone",
        "seed": seed,
        "embedding_size": embedding_size,
    }


def _encoder(settings: dict[str, Any], backend: str, precision: str) -> Encoder:
    if settings["loader"] == "pretrained":
        return Encoder.from_pretrained(settings["model"], backend=backend, precision=precision)
    return Encoder.from_backbone(
        settings["model"],
        embedding_size=settings["embedding_size"],
        seed=settings["seed"],
        backend=backend,
        precision=precision,
    )


def load_encoder(
    model_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    embedding_size: int = 128,
    backend: str = "torch",
    precision: str = "float32",
) -> Encoder:
    """The encoder a retriever uses for ``model_dir`` (R-RET-2): the folder's own projection
    when it is a late-interaction model, else a seeded ``embedding_size`` projection."""
    return _encoder(_model_settings(model_dir, seed, embedding_size), backend, precision)


def _pairs(corpus: Iterable) -> Iterator[tuple[Any, str]]:
    for n, item in enumerate(corpus):
        if not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[1], str):
            raise InputError(f"R-RET-1: corpus item {n} is not an (id, text) pair: {item!r}")
        yield item[0], item[1]


def _staged_texts(path: Path) -> Path:
    """Where the first chunk's texts wait while the index is created."""
    return path.with_name(path.name + ".texts-1.jsonl")


def _write_texts(path: Path, ids: list, texts: list[str]) -> None:
    """The chunk's texts, atomically (temporary file, fsync, rename), before its commit."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for i, t in zip(ids, texts, strict=True):
            f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Retriever:
    """Texts in, ranked ids out: ``Retriever.build`` indexes a corpus, ``Retriever.open`` reopens
    it with the model it was built with, ``search`` ranks documents for query texts."""

    def __init__(self, index: Index, encoder: Encoder, settings: dict) -> None:
        self.index = index
        self.encoder = encoder
        self.settings = settings
        self._texts: dict | None = None

    @classmethod
    def build(
        cls,
        index_dir: str | os.PathLike,
        model_dir: str | os.PathLike,
        corpus: Iterable,
        *,
        batch_size: int = 32,
        commit_every: int = DEFAULT_COMMIT_EVERY,
        nbits: int = 2,
        seed: int = 0,
        embedding_size: int = 128,
        backend: str = "torch",
        precision: str = "float32",
        threads: int | None = None,
        progress: bool | None = None,
        on_chunk: Callable[[list, list[np.ndarray]], None] | None = None,
    ) -> Retriever:
        """Indexes ``corpus``, an iterable of ``(id, text)`` pairs, at ``index_dir`` (R-RET-1).

        The first ``commit_every`` documents create the index (its centroids are trained on
        them); every further chunk is added as a segment. Ids already in an index built with the
        same model and settings are skipped, so an interrupted run resumes; an index built with
        another model or settings raises ``InputError`` (R-RET-3). ``on_chunk(ids, vectors)``, when
        given, sees each chunk's document embeddings before they are indexed (to keep them, e.g.
        for exact search).
        """
        if isinstance(commit_every, bool) or not isinstance(commit_every, int) or commit_every < 1:
            raise InputError(f"R-RET-1: commit_every must be an integer >= 1, got {commit_every!r}")
        settings = _model_settings(model_dir, seed, embedding_size) | {"nbits": nbits}
        path = Path(index_dir)
        index = cls._resume(path, settings)
        encoder = _encoder(settings, backend, precision)
        done = set(index.ids) if index is not None else set()
        report = Progress("indexing", progress)
        pending = ((i, t) for i, t in _pairs(corpus) if i not in done)
        chunks = iter(lambda: list(itertools.islice(pending, commit_every)), [])
        try:
            for n, chunk in enumerate(chunks):
                ids, texts = [i for i, _ in chunk], [t for _, t in chunk]
                vectors = encoder.encode(texts, is_query=False, batch_size=batch_size)
                if on_chunk is not None:
                    on_chunk(ids, vectors)
                if index is None:
                    # Index.create wants an empty directory: the texts wait beside it.
                    staged = _staged_texts(path)
                    staged.parent.mkdir(parents=True, exist_ok=True)
                    _write_texts(staged, ids, texts)
                    index = Index.create(
                        path, vectors, ids, nbits=nbits, seed=seed, metadata=settings,
                        threads=threads,
                    )  # fmt: skip
                    os.replace(staged, path / TEXTS.format(generation=1))
                else:
                    _write_texts(path / TEXTS.format(generation=index.generation + 1), ids, texts)
                    index = index.add(vectors, ids, threads=threads)
                report("chunks committed", n + 1, n + 1)
        finally:
            report.close()
        if index is None:
            raise InputError(f"R-RET-1: the corpus for {path} has no document")
        return cls(index, encoder, settings)

    @staticmethod
    def _resume(path: Path, settings: dict) -> Index | None:
        """The index already at ``path`` when it was built with ``settings`` (R-RET-3)."""
        if not (path / "MANIFEST").exists():
            if path.exists() and any(path.iterdir()):
                raise InputError(f"R-RET-3: {path} exists and is not an index")
            return None
        index = Index.open(path)
        staged, first = _staged_texts(path), path / TEXTS.format(generation=1)
        if staged.exists() and not first.exists():  # interrupted right after the first commit
            os.replace(staged, first)
        have = index.metadata
        if have != settings:
            raise InputError(
                f"R-RET-3: the index at {path} was built with {json.dumps(have, sort_keys=True)}, "
                f"not {json.dumps(settings, sort_keys=True)}"
            )
        return index

    @classmethod
    def open(
        cls, index_dir: str | os.PathLike, *, backend: str = "torch", precision: str = "float32"
    ) -> Retriever:
        """Opens an index built by ``Retriever.build`` with the model it records (R-RET-2)."""
        index = Index.open(index_dir)
        settings = index.metadata
        if settings.get("format") != FORMAT:
            raise InputError(f"R-RET-2: the index at {index_dir} records no retriever model")
        return cls(index, _encoder(settings, backend, precision), settings)

    def search(self, queries: str | list[str], k: int = 10, **params: Any) -> list[Hits]:
        """The ``k`` best documents for each query text (R-RET-4); ``params`` as
        ``Index.search``."""
        texts = [queries] if isinstance(queries, str) else list(queries)
        if not texts:
            return []
        vectors = self.encoder.encode(texts, is_query=True)
        return self.index.search(vectors, k, **params)

    def search_embeddings(self, queries: Any, k: int = 10, **params: Any) -> list[Hits]:
        """As ``search``, for precomputed query embeddings (R-RET-4)."""
        return self.index.search(queries, k, **params)

    def rerank(self, query: str, documents: list[tuple[Any, str]], k: int | None = None) -> Hits:
        """Candidates ``(id, text)`` ranked by exact MaxSim with ``query`` (R-RET-5), as PyLate's
        ``rank.rerank``: best first, ties by input order."""
        pairs = list(_pairs(documents))
        if not pairs:
            return Hits([], np.zeros(0, np.float32))
        q = self.encoder.encode([query], is_query=True)
        d = self.encoder.encode([t for _, t in pairs], is_query=False)
        scores = maxsim(q, d)[0]
        order = sorted(range(len(pairs)), key=lambda j: (-float(scores[j]), j))[:k]
        return Hits([pairs[j][0] for j in order], scores[order])

    def text(self, doc_id: Any) -> str | None:
        """The stored text of a document, or None."""
        if self._texts is None:
            self._texts = self._load_texts()
        return self._texts.get(doc_id)

    def _load_texts(self) -> dict:
        """Texts of the committed chunks only (a chunk's file is written before its commit)."""
        out: dict = {}
        for generation in range(1, self.index.generation + 1):
            f = Path(self.index.path) / TEXTS.format(generation=generation)
            if f.is_file():
                with open(f, encoding="utf-8") as fh:
                    for line in fh:
                        item = json.loads(line)
                        out[item["id"]] = item["text"]
        return out

    def info(self) -> dict:
        """The index's stats with the model it was built with."""
        return self.index.stats() | {"model": self.settings.get("model"), "settings": self.settings}
