"""``Retriever``: an encoder joined to an on-disk index (spec/retriever.md).

Indexing reads the ``(id, text)`` pairs, creates the index from a seeded sample of them drawn
across the corpus (which trains its centroids), then adds the others in chunks, each a new
segment, every commit atomic with the texts it holds (``texts``, the texts store). One build
writes an index at a time. An interrupted run leaves the index at its last commit; running
``Retriever.build`` again with the same model continues after it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref import _checks
from lateint_ref.encoding.encoder import Encoder, Seeded, build_encoder
from lateint_ref.encoding.fingerprint import fingerprint
from lateint_ref.encoding.folder import ModelFolder, read_folder
from lateint_ref.errors import InputError
from lateint_ref.index import Hits, Index, writer
from lateint_ref.index.writer import external_ids
from lateint_ref.progress import DocumentProgress
from lateint_ref.retrieval import changes, sample, sync
from lateint_ref.retrieval import texts as texts_store
from lateint_ref.scoring import maxsim

FORMAT = "lateint-retriever/1"
DEFAULT_COMMIT_EVERY = 10_000


def _model(
    model_dir: str | os.PathLike[str],
    seed: int,
    embedding_size: int,
    projection: str | None = None,
    *,
    fingerprinted: bool = True,
) -> tuple[dict[str, Any], ModelFolder]:
    """What the index records of its model (R-RET-2; with ``fingerprinted``, its fingerprint,
    R-RET-9), and the folder read once by the one reader of model folders: a PyLate folder or a
    Stanford checkpoint is loaded with its own projection; a bare backbone only with
    ``projection="random"``, which gives it a seeded projection (as ``Encoder.from_backbone``;
    ``Encoder.from_pretrained`` refuses it). A malformed folder raises the reader's
    WeightsError."""
    if projection not in (None, "random"):
        raise InputError(f"R-RET-2: projection must be None or 'random', got {projection!r}")
    model = Path(model_dir).resolve()
    if not model.is_dir():
        raise InputError(f"R-RET-2: model folder not found: {model}")
    folder = read_folder(model)
    # R-RET-9: what the model's files were when the index was built
    mark = {"fingerprint": fingerprint(folder)} if fingerprinted else {}
    if folder.kind != "backbone":
        if projection is not None:
            raise InputError(
                f"R-RET-2: drop projection='random' (--projection random): {model} is a "
                f"{folder.kind} model folder with its own projection"
            )
        return {"format": FORMAT, "model": str(model), "loader": "pretrained", **mark}, folder
    if projection is None:
        raise InputError(
            f"R-RET-2: give a late-interaction model, or opt in to a seeded random projection "
            f"with projection='random' (--projection random, with --seed and --embedding-size): "
            f"{model} is a bare backbone without one (Encoder.from_pretrained refuses it too)"
        )
    settings = {
        "format": FORMAT,
        "model": str(model),
        "loader": "backbone",
        "seed": seed,
        "embedding_size": embedding_size,
        **mark,
    }
    return settings, folder


def _encoder(
    settings: dict[str, Any], backend: str, precision: str, folder: ModelFolder | None = None
) -> Encoder:
    """The encoder an index's record names (R-RET-2); ``folder``: the model folder already read
    (else it is read from the record's path)."""
    if folder is None:
        model = Path(settings["model"])
        if not model.is_dir():
            raise InputError(f"R-RET-2: model folder not found: {model}")
        folder = read_folder(model)
    seeded = None
    if settings["loader"] == "backbone":
        seeded = Seeded(settings["embedding_size"], settings["seed"])
    return build_encoder(folder, {}, backend=backend, precision=precision, seeded=seeded)


def load_encoder(
    model_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    embedding_size: int = 128,
    backend: str = "torch",
    precision: str = "float32",
    projection: str | None = None,
) -> Encoder:
    """The encoder a retriever uses for ``model_dir`` (R-RET-2): the folder's own projection
    when it is a late-interaction model; a bare backbone with ``projection="random"`` only, a
    seeded ``embedding_size`` projection."""
    settings, folder = _model(model_dir, seed, embedding_size, projection, fingerprinted=False)
    return _encoder(settings, backend, precision, folder)


def _same_record(have: dict[str, Any], settings: dict[str, Any]) -> bool:
    """Whether an index's record ``have`` is the one a build would write, ``settings`` (R-RET-3):
    equal, or equal but for the fingerprint an index built before fingerprints lacks (R-RET-9)."""
    if "fingerprint" not in have:
        settings = {k: v for k, v in settings.items() if k != "fingerprint"}
    return have == settings


def _moved_model(
    settings: dict[str, Any], model_dir: str | os.PathLike[str], where: str
) -> ModelFolder:
    """The folder ``model_dir`` read, once its fingerprint is the one the index at ``where``
    records (R-RET-9); an index without one accepts only the folder it records."""
    model = Path(model_dir).resolve()
    if not model.is_dir():
        raise InputError(f"R-RET-9: model folder not found: {model}")
    folder = read_folder(model)
    recorded = settings.get("fingerprint")
    if recorded is None:
        if str(model) != settings.get("model"):
            raise InputError(
                f"R-RET-9: the index at {where} was built before model fingerprints and records "
                f"no fingerprint of its model {settings.get('model')}, so {model} cannot be "
                "checked against it: build the index again to give it one, or give the folder "
                "it records"
            )
        return folder
    found = fingerprint(folder)
    if found != recorded:
        raise InputError(
            f"R-RET-9: the model in {model} (fingerprint {found[:12]}) is not the one the index "
            f"at {where} was built with (fingerprint {recorded[:12]}, from "
            f"{settings.get('model')}): give the folder of that model, unchanged"
        )
    return folder


def _pairs(corpus: Iterable[Any]) -> Iterator[tuple[Any, str]]:
    for n, item in enumerate(corpus):
        if not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[1], str):
            raise InputError(f"R-RET-1: corpus item {n} is not an (id, text) pair: {item!r}")
        yield item[0], item[1]


def _chunk_ids(ids: list[Any]) -> list[texts_store.DocId]:
    """A chunk's ids as the index keeps them (R-INDEX-5): Python ints or strings."""
    ext = external_ids(ids, len(ids))
    return ext.tolist() if isinstance(ext, np.ndarray) else list(ext)


class _Build:
    """The encoding and the commits of one ``Retriever.build``, under its writer lock: the codec
    sample creates the index (R-RET-8), each later chunk is added as a segment (R-RET-1), every
    commit's texts written durably first; progress counts the documents encoded."""

    def __init__(
        self,
        path: Path,
        encoder: Encoder,
        settings: dict[str, Any],
        plan: sync.Sync,
        *,
        batch_size: int,
        nbits: int,
        seed: int,
        threads: int | None,
        on_chunk: Callable[[list[Any], list[np.ndarray]], None] | None,
        report: DocumentProgress,
    ) -> None:
        self.path, self.encoder, self.settings, self.plan = path, encoder, settings, plan
        self.batch_size, self.nbits, self.seed, self.threads = batch_size, nbits, seed, threads
        self.on_chunk, self.report = on_chunk, report
        self.done = 0  # documents encoded

    def _encode(self, pairs: list[tuple[Any, str]], stage: str) -> list[np.ndarray]:
        ids, texts = _chunk_ids([i for i, _ in pairs]), [t for _, t in pairs]
        self.plan.counts.truncated += self.encoder.truncated(texts)
        before = self.done
        self.report(before, stage, force=True)
        vectors = self.encoder.encode(
            texts,
            is_query=False,
            batch_size=self.batch_size,
            show_progress=False,
            on_batch=lambda n: self.report(before + n, stage),
        )
        self.done = before + len(pairs)
        if self.on_chunk is not None:
            self.on_chunk(ids, vectors)
        return vectors

    def create(self, pairs: list[tuple[Any, str]], n_docs: int) -> Index:
        """Generation 1: the sample's documents, encoded ``sample.GROUP`` at a time and streamed
        to ``Index.create`` (R-INDEX-17), with the number of centroids of the ``n_docs``
        documents the sample stands for (R-RET-8)."""
        ids, texts = _chunk_ids([i for i, _ in pairs]), [t for _, t in pairs]
        groups = (pairs[g : g + sample.GROUP] for g in range(0, len(pairs), sample.GROUP))
        batches = (self._encode(group, "encoding the codec sample") for group in groups)
        # Index.create wants an empty folder: the texts wait beside it, and are moved in once
        # generation 1 is committed (or by the next build when this one stops in between).
        texts_store.stage(self.path, ids, texts)
        try:
            writer.create(
                self.path,
                batches,
                ids,
                nbits=self.nbits,
                seed=self.seed,
                metadata=self.settings,
                threads=self.threads,
                progress=False,
                centroids_for=lambda docs, tokens: sample.centroids(n_docs, docs, tokens),
            )
        except BaseException:
            if not (self.path / "MANIFEST").exists():
                texts_store.unstage(self.path)
            raise
        texts_store.commit_staged(self.path)
        self.report.committed(self.done)
        return Index.open(self.path)

    def add(self, pairs: list[tuple[Any, str]]) -> Index:
        """A chunk as a new segment, replacing live documents of its ids (R-RET-7)."""
        ids = _chunk_ids([i for i, _ in pairs])
        vectors = self._encode(pairs, "encoding")
        self.report(self.done, "committing", force=True)
        # The generation as committed on disk, not as this build last saw it: a texts file of a
        # committed generation is never overwritten.
        on_disk = Index.open(self.path)
        texts_store.write(self.path, on_disk.generation + 1, ids, [t for _, t in pairs])
        added = on_disk.add(
            vectors, ids, upsert=self.plan.replaces(ids), threads=self.threads, progress=False
        )
        self.report.committed(self.done)
        return added


class Retriever:
    """Texts in, ranked ids out: ``Retriever.build`` indexes a corpus, ``Retriever.open`` reopens
    it with the model it was built with, ``search`` ranks documents for query texts."""

    def __init__(
        self,
        index: Index,
        encoder: Encoder,
        settings: dict[str, Any],
        texts: dict[texts_store.DocId, str] | None = None,
    ) -> None:
        self.index = index
        self.encoder = encoder
        self.settings = settings
        self._texts = texts
        # What the build that returned this retriever did with the corpus (R-RET-7).
        self.counts: dict[str, int] | None = None

    @classmethod
    def build(
        cls,
        index_dir: str | os.PathLike[str],
        model_dir: str | os.PathLike[str],
        corpus: Iterable[Any],
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
        on_chunk: Callable[[list[Any], list[np.ndarray]], None] | None = None,
        lock_timeout: float | None = 0,
        prune: bool = False,
        append: bool = False,
        keep_empty: bool = False,
        projection: str | None = None,
        sample_documents: int | None = None,
    ) -> Retriever:
        """Indexes ``corpus``, an iterable of ``(id, text)`` pairs, at ``index_dir`` (R-RET-1).

        A new index is created from its codec sample (R-RET-8): ``sample_documents`` documents
        (None: ``min(n, ceil(16 sqrt(120 n)))`` of the ``n`` to index) drawn across the whole
        corpus with ``seed``, encoded first; its centroids and buckets are trained on them, so
        they do not depend on ``commit_every``. The other documents follow in chunks of
        ``commit_every``, each committed as a segment with its texts. An interrupted run leaves
        the index at its last commit; running it again continues: ids already in an index
        built with the same model and settings are skipped; an index built with another model
        or settings raises ``InputError`` (R-RET-3), an index whose texts are damaged
        ``IndexFormatError``, and an index another writer is writing ``IndexLockedError``, at
        once or after waiting ``lock_timeout`` seconds (None: as long as it takes; R-INDEX-14).
        ``on_chunk(ids, vectors)``, when given, sees the document embeddings of each group
        encoded before they are indexed (to keep them, e.g. for exact search). ``progress``:
        True or False, None shows it only when stderr is a terminal: the documents encoded out
        of those to encode, the rate and the time left, refreshed on a terminal and one line
        per commit elsewhere.

        Over an existing index the build brings it in line with the corpus (R-RET-7): documents
        it lacks are added, documents whose text changed replaced, unchanged ones skipped, and
        with ``prune=True`` the documents the corpus lacks deleted; a corpus none of whose
        documents the index holds raises ``InputError`` unless ``append=True``. Empty or
        whitespace-only texts are skipped unless ``keep_empty=True``. The returned retriever's
        ``counts`` say what became of the documents (``added``, ``updated``, ``unchanged``,
        ``removed``, ``empty``, ``not_in_corpus``) and how many encoded ones were ``truncated``
        to the document length.

        ``projection="random"``: ``model_dir`` is a bare backbone (no late-interaction
        projection), given a seeded ``embedding_size`` projection (``seed``); without it such a
        folder raises ``InputError`` (R-RET-2), as ``Encoder.from_pretrained`` refuses it.
        """
        commit_every = _checks.positive(commit_every, "commit_every", "R-RET-1")
        recorded, folder = _model(model_dir, seed, embedding_size, projection)
        settings = recorded | {"nbits": nbits}
        path = Path(index_dir)
        if path.exists() and not path.is_dir():
            raise InputError(f"R-RET-3: {path} exists and is not an index")
        # R-RET-1, R-INDEX-14: one writer, for the whole build
        with texts_store.writer_lock(path, lock_timeout):
            index, stored = cls._resume(path, settings)
            if index is not None:  # R-RET-9: an index built before fingerprints keeps its record
                settings = index.metadata
            encoder = _encoder(settings, backend, precision, folder)
            plan = sync.Sync(
                stored,
                append=_checks.flag(append, "append", "R-RET-7"),
                keep_empty=_checks.flag(keep_empty, "keep_empty", "R-RET-7"),
                path=path,
            )
            prune = _checks.flag(prune, "prune", "R-RET-7")
            # R-RET-7: the whole corpus is read, and checked against the index, before any work
            todo = list(plan.items(_pairs(corpus)))
            build = _Build(
                path,
                encoder,
                settings,
                plan,
                batch_size=batch_size,
                nbits=nbits,
                seed=seed,
                threads=threads,
                on_chunk=on_chunk,
                report=DocumentProgress("indexing", len(todo), progress),
            )
            try:
                if index is None and todo:  # R-RET-8: the codec sample creates the index
                    size = sample.checked_size(sample_documents, len(todo))
                    chosen = set(sample.positions(len(todo), size, seed))
                    index = build.create([p for n, p in enumerate(todo) if n in chosen], len(todo))
                    todo = [p for n, p in enumerate(todo) if n not in chosen]
                for start in range(0, len(todo), commit_every):
                    index = build.add(todo[start : start + commit_every])
                gone = plan.removals(prune)
                if gone and index is not None:  # R-RET-7: one commit deletes them all
                    on_disk = Index.open(path)
                    texts_store.recover(path, on_disk.generation)
                    index = on_disk.delete(gone)
            finally:
                build.report.close()
        if index is None:
            empty = plan.counts.empty
            why = f" that is not empty ({empty} empty: keep_empty indexes them)" if empty else ""
            raise InputError(f"R-RET-1: the corpus for {path} has no document{why}")
        built = cls(index, encoder, settings)
        built.counts = plan.counts.as_dict()
        return built

    @staticmethod
    def _resume(
        path: Path, settings: dict[str, Any]
    ) -> tuple[Index | None, dict[texts_store.DocId, str]]:
        """The index already at ``path`` when it was built with ``settings`` (R-RET-3) and the
        texts of its live documents, checked (R-RET-1); ``(None, {})`` for an empty or missing
        folder. Under the writer lock."""
        if not (path / "MANIFEST").exists():
            # R-INDEX-13: what a first commit that did not happen left is no index yet;
            # Index.create removes it.
            if not writer.is_uncommitted(path):
                raise InputError(f"R-RET-3: {path} exists and is not an index")
            texts_store.unstage(path)  # a first chunk that was never committed
            texts_store.clear_staging_temporaries(path)
            return None, {}
        index = Index.open(path)
        have = index.metadata
        if not _same_record(have, settings):
            raise InputError(
                f"R-RET-3: the index at {path} was built with {json.dumps(have, sort_keys=True)}, "
                f"not {json.dumps(settings, sort_keys=True)}"
            )
        texts_store.recover(path, index.generation)
        return index, texts_store.load(path, index)

    @classmethod
    def open(
        cls,
        index_dir: str | os.PathLike[str],
        *,
        model_dir: str | os.PathLike[str] | None = None,
        backend: str = "torch",
        precision: str = "float32",
    ) -> Retriever:
        """Opens an index built by ``Retriever.build`` with the model it records (R-RET-2),
        after checking its texts (R-RET-1: ``IndexFormatError`` when damaged). ``model_dir``:
        that model from another folder (it moved), whose files must have the fingerprint the
        index records (R-RET-9: else ``InputError``)."""
        index = Index.open(index_dir)
        settings = index.metadata
        if settings.get("format") != FORMAT:
            raise InputError(f"R-RET-2: the index at {index_dir} records no retriever model")
        folder = None if model_dir is None else _moved_model(settings, model_dir, str(index_dir))
        texts = texts_store.load(Path(index_dir), index)
        return cls(index, _encoder(settings, backend, precision, folder), settings, texts)

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
        k = None if k is None else _checks.positive(k, "k", "R-RET-5")
        pairs = list(_pairs(documents))
        if not pairs:
            return Hits([], np.zeros(0, np.float32))
        q = self.encoder.encode([query], is_query=True)
        d = self.encoder.encode([t for _, t in pairs], is_query=False)
        scores = maxsim(q, d)[0]
        order = sorted(range(len(pairs)), key=lambda j: (-float(scores[j]), j))[:k]
        return Hits([pairs[j][0] for j in order], scores[order])

    def add(
        self,
        documents: Iterable[Any],
        *,
        upsert: bool = False,
        batch_size: int = 32,
        threads: int | None = None,
        progress: bool | None = None,
        lock_timeout: float | None = 0,
    ) -> None:
        """Encodes ``documents``, ``(id, text)`` pairs, and adds them with their texts in one
        commit (R-RET-6); with ``upsert=True`` the live documents of the same ids are replaced in
        that commit, else such an id raises ``InputError`` (R-INDEX-11), nothing changed.
        ``lock_timeout``: as ``build`` (R-INDEX-14)."""
        pairs = list(_pairs(documents))
        if not pairs:
            return
        ids, texts = _chunk_ids([i for i, _ in pairs]), [t for _, t in pairs]
        vectors = self.encoder.encode(
            texts, is_query=False, batch_size=batch_size, show_progress=progress
        )
        self.index = changes.add(
            self.index.path,
            ids,
            texts,
            vectors,
            upsert=upsert,
            threads=threads,
            progress=progress,
            lock_timeout=lock_timeout,
        )
        self._texts = None

    def delete(self, ids: Any, *, lock_timeout: float | None = 0) -> None:
        """Deletes the documents of ``ids`` and their texts in one commit (R-RET-6,
        R-INDEX-10): an id that no live document has raises ``InputError``, nothing changed.
        ``lock_timeout``: as ``build`` (R-INDEX-14)."""
        self.index = changes.delete(self.index.path, ids, lock_timeout=lock_timeout)
        self._texts = None

    def compact(
        self,
        refit: bool = False,
        *,
        batch_size: int = 32,
        threads: int | None = None,
        progress: bool | None = None,
        lock_timeout: float | None = 0,
    ) -> None:
        """Compacts the index (R-INDEX-12), its texts store with it (R-RET-6). With
        ``refit=True`` the stored texts of the live documents are encoded again with this
        retriever's encoder and the index is compacted with a codec refitted on them
        (R-INDEX-19), in the same commit. ``lock_timeout``: as ``build`` (R-INDEX-14)."""
        refit = _checks.flag(refit, "refit", "R-INDEX-19")

        def encode(texts: list[str]) -> list[np.ndarray]:
            return self.encoder.encode(
                texts, is_query=False, batch_size=batch_size, show_progress=progress
            )

        self.index = changes.compact(
            self.index.path,
            threads=threads,
            lock_timeout=lock_timeout,
            encode=encode if refit else None,
            progress=progress,
        )
        self._texts = None

    def text(self, doc_id: Any) -> str | None:
        """The stored text of a document, or None (R-RET-1)."""
        if self._texts is None:
            self._texts = texts_store.load(Path(self.index.path), self.index)
        return self._texts.get(doc_id)

    def info(self) -> dict[str, Any]:
        """The index's stats with the model it was built with."""
        return self.index.stats() | {"model": self.settings.get("model"), "settings": self.settings}
