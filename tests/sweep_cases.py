"""The table of the bad-input sweep, Python API part (tests/test_bad_input_sweep.py; the
``lateint`` commands: tests/sweep_cli_cases.py). Each row is registered by ``bad`` (the typed
error, the requirement its message starts with, the fragments naming the bad value) or ``edge``
(a valid input at an edge and the documented answer), grouped by the child process that runs
it. ``fx`` is the group's ``sweep_fixtures.Fixtures``."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sweep_core import bad, edge, group
from sweep_fixtures import DIM, TINY_BERT, TINY_MODERNBERT

from lateint_ref.errors import IndexFormatError, InputError, WeightsError

ROOT_READS_ALL = (
    "running as root, which reads a file whatever its mode" if os.geteuid() == 0 else None
)

# The public entry points the table must cover (test_every_public_entry_point_is_swept).
PUBLIC = [
    "maxsim",
    "maxsim_pairwise",
    "search_exact",
    "Documents",
    "Index.create",
    "Index.open",
    "Index.search",
    "Index.search_defaults",
    "Index.decode",
    "Index.codes",
    "Index.add",
    "Index.delete",
    "Index.compact",
    "Index.stage_probe",
    "Index.stage_codes",
    "Index.stage_rescore",
    "Index.codec_sample",
    "Index.fit_codec",
    "Encoder.from_pretrained",
    "Encoder.from_backbone",
    "Encoder.encode",
    "Encoder.tokenize",
    "Encoder.truncated",
    "Encoder.save_pretrained",
    "Retriever.build",
    "Retriever.open",
    "Retriever.search",
    "Retriever.search_embeddings",
    "Retriever.rerank",
    "Retriever.add",
    "Retriever.delete",
    "Retriever.compact",
    "Retriever.text",
    "evaluation.evaluate",
    "evaluation.ndcg",
    "evaluation.recall",
    "evaluation.mrr",
    "evaluation.map_at",
    "evaluation.ranked",
    "evaluation.read_run",
    "evaluation.write_run",
    "evaluation.read_qrels",
    "beir.load_corpus",
    "beir.load_queries",
    "beir.load_qrels",
    "beir.load_dataset",
    "beir.read_text_folder",
    "training.data.read_triplets",
    "training.data.read_distillation",
    "training.data.read_beir_pairs",
    "training.data.batches",
    "training.mining.mine",
    "training.ColBERT.from_pretrained",
    "training.ColBERT.from_backbone",
    "training.Contrastive",
    "training.CachedContrastive",
    "training.Distillation",
    "training.fit",
    "pylate.models.ColBERT",
    "pylate.models.ColBERT.encode",
    "pylate.indexes.PLAID",
    "pylate.indexes.PLAID.add_documents",
    "pylate.indexes.PLAID.remove_documents",
    "pylate.indexes.PLAID.get_documents_embeddings",
    "pylate.retrieve.ColBERT.retrieve",
    "pylate.rank.rerank",
]
COMMANDS = [
    "index",
    "search",
    "eval",
    "encode",
    "info",
    "add",
    "delete",
    "compact",
    "mine",
    "train",
]


def public_entry_points() -> list[str]:
    return PUBLIC + [f"lateint {c}" for c in COMMANDS]


# Public callables that take input but are left out of the table, with the reason.
NOT_SWEPT = {
    "Encoder.precision_for": "a keyword flag only: resolves a precision already checked",
    "Index.refresh": "no argument",
    "Retriever.info": "no argument",
    "pylate.indexes.PLAID.update_documents": "add_documents with upsert: the same checks",
    "evaluation.beir": "a module",
}


def discovered_entry_points() -> list[str]:
    """The public functions and the methods taking arguments of the public classes and modules
    (README's API), found by introspection, so that a new one is noticed."""
    import importlib
    import inspect

    found: list[str] = []

    def takes_input(fn: Any) -> bool:
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            return False
        return any(p not in ("self", "cls") for p in params)

    def methods(prefix: str, cls: type) -> None:
        for name, member in vars(cls).items():
            if name.startswith("_") or isinstance(member, property):
                continue
            fn = member.__func__ if isinstance(member, classmethod | staticmethod) else member
            if callable(fn) and takes_input(fn):
                found.append(f"{prefix}.{name}")

    lateint_ref = li()
    for name in ("maxsim", "maxsim_pairwise", "search_exact"):
        found.append(name)
    found.append("Documents")
    for cls in (lateint_ref.Index, lateint_ref.Encoder, lateint_ref.Retriever):
        methods(cls.__name__, cls)
    evaluation = importlib.import_module("lateint_ref.evaluation")
    for name in evaluation.__all__:
        if inspect.isfunction(getattr(evaluation, name, None)):
            found.append(f"evaluation.{name}")
    beir_module = importlib.import_module("lateint_ref.evaluation.beir")
    for name in ("load_corpus", "load_queries", "load_qrels", "load_dataset", "read_text_folder"):
        assert inspect.isfunction(getattr(beir_module, name))
        found.append(f"beir.{name}")
    data_module = importlib.import_module("lateint_ref.training.data")
    for name in ("read_triplets", "read_distillation", "read_beir_pairs", "batches"):
        assert inspect.isfunction(getattr(data_module, name))
        found.append(f"training.data.{name}")
    found += ["training.mining.mine", "training.fit"]
    found += [f"training.{n}" for n in ("Contrastive", "CachedContrastive", "Distillation")]
    found += ["training.ColBERT.from_pretrained", "training.ColBERT.from_backbone"]
    models = importlib.import_module("lateint_ref.pylate.models")
    indexes = importlib.import_module("lateint_ref.pylate.indexes")
    found.append("pylate.models.ColBERT")
    found += [f"pylate.models.ColBERT.{n}" for n in ("encode",)]
    assert takes_input(models.ColBERT.encode)
    found.append("pylate.indexes.PLAID")
    methods("pylate.indexes.PLAID", indexes.PLAID)
    found += ["pylate.retrieve.ColBERT.retrieve", "pylate.rank.rerank"]
    return [f for f in found if f not in NOT_SWEPT]


def f32(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


Q = f32(4, DIM, seed=1)
D = [f32(n, DIM, seed=2 + n) for n in (3, 5, 2)]


def with_value(a: np.ndarray, at: tuple[int, ...], v: float) -> np.ndarray:
    b = a.copy()
    b[at] = v
    return b


def read_only(a: np.ndarray) -> np.ndarray:
    b = a.copy()
    b.flags.writeable = False
    return b


def mmapped(fx: Any, a: np.ndarray) -> np.ndarray:
    path = fx.path("m.npy")
    np.save(path, a)
    return np.load(path, mmap_mode="r")


def strided(a: np.ndarray) -> np.ndarray:
    """``a`` as a non-contiguous view (every other row of a doubled array)."""
    big = np.repeat(a, 2, axis=0)
    view = big[::2]
    assert not view.flags.c_contiguous
    return view


def fortran(a: np.ndarray) -> np.ndarray:
    b = np.asfortranarray(a)
    assert not b.flags.c_contiguous or a.shape[0] == 1
    return b


def oracle(q: np.ndarray, docs: list[np.ndarray]) -> np.ndarray:
    """float64 MaxSim of one query against each document."""
    q64 = np.asarray(q, np.float64)
    return np.array([(q64 @ np.asarray(d, np.float64).T).max(axis=1).sum() for d in docs])


def close_to(expected: np.ndarray, rtol: float = 1e-5) -> Any:
    def check(got: Any) -> None:
        got = np.asarray(got)
        assert got.shape == expected.shape, (got.shape, expected.shape)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-5)

    return check


def shape_is(shape: tuple[int, ...]) -> Any:
    def check(got: Any) -> None:
        assert np.asarray(got).shape == shape, np.asarray(got).shape

    return check


def li() -> Any:
    import lateint_ref

    return lateint_ref


# ======================================== exact scoring (R-MAXSIM, R-SEARCH)
group("scoring")
EXPECTED = oracle(Q, D)[None, :]

for dtype in ("float64", "int32", "int64", "bool", "complex64", "uint8", "object"):
    bad(
        "maxsim",
        f"queries of dtype {dtype}",
        lambda fx, t=dtype: li().maxsim(Q.astype(t), D),
        InputError,
        "R-MAXSIM-5",
        np.dtype(dtype).name,
    )
    bad(
        "maxsim",
        f"a document of dtype {dtype}",
        lambda fx, t=dtype: li().maxsim(Q, [D[0], D[1].astype(t)]),
        InputError,
        "R-MAXSIM-5",
        "document 1",
        np.dtype(dtype).name,
    )
bad("maxsim", "queries as a string", lambda fx: li().maxsim("a query", D), InputError, "R-MAXSIM-5")
bad("maxsim", "documents None", lambda fx: li().maxsim(Q, None), InputError, "R-MAXSIM-5")
bad(
    "maxsim",
    "ragged nested lists",
    lambda fx: li().maxsim([[[1.0, 2.0], [3.0]]], D),
    InputError,
    "R-MAXSIM-5",
    "query 0",
)
bad(
    "maxsim", "queries of rank 1", lambda fx: li().maxsim(Q[0], D), InputError, "R-MAXSIM-6", "(8,)"
)
bad(
    "maxsim",
    "queries of rank 4",
    lambda fx: li().maxsim(Q[None, None], D),
    InputError,
    "R-MAXSIM-6",
    "(1, 1, 4, 8)",
)
bad(
    "maxsim",
    "a document of rank 1",
    lambda fx: li().maxsim(Q, [D[0][0]]),
    InputError,
    "R-MAXSIM-6",
    "document 0",
    "(8,)",
)
bad(
    "maxsim",
    "a 2-D array as documents",
    lambda fx: li().maxsim(Q, D[0]),
    InputError,
    "R-MAXSIM-6",
    "(3, 8)",
)
bad(
    "maxsim",
    "a scalar as documents",
    lambda fx: li().maxsim(Q, np.float32(1)),
    InputError,
    "R-MAXSIM-6",
)
bad(
    "maxsim",
    "query dim 8, document dim 3",
    lambda fx: li().maxsim(Q, [np.ones((2, 3), np.float32)]),
    InputError,
    "R-MAXSIM-7",
    "8",
    "3",
)
bad(
    "maxsim",
    "documents of two dims",
    lambda fx: li().maxsim(Q, [D[0], D[1][:, :4]]),
    InputError,
    "R-MAXSIM-7",
    "4",
    "8",
)
bad(
    "maxsim",
    "dim 0",
    lambda fx: li().maxsim(np.zeros((2, 0), np.float32), [np.zeros((1, 0), np.float32)]),
    InputError,
    "R-MAXSIM-7",
    "0",
)
bad(
    "maxsim",
    "a document of no token",
    lambda fx: li().maxsim(Q, [D[0], np.zeros((0, DIM), np.float32)]),
    InputError,
    "R-MAXSIM-8",
    "document 1",
)
bad(
    "maxsim",
    "a query of no token",
    lambda fx: li().maxsim([Q, Q[:0]], D),
    InputError,
    "R-MAXSIM-8",
    "query 1",
)
bad(
    "maxsim",
    "[n, 0, dim] queries",
    lambda fx: li().maxsim(np.zeros((2, 0, DIM), np.float32), D),
    InputError,
    "R-MAXSIM-8",
)
for v in (np.nan, np.inf, -np.inf):
    bad(
        "maxsim",
        f"{v} in a query",
        lambda fx, v=v: li().maxsim(with_value(Q, (2, 5), v), D),
        InputError,
        "R-MAXSIM-9",
        "query 0, token 2, component 5",
    )
    bad(
        "maxsim",
        f"{v} in a document",
        lambda fx, v=v: li().maxsim(Q, [D[0], with_value(D[1], (4, 7), v)]),
        InputError,
        "R-MAXSIM-9",
        "document 1, token 4, component 7",
    )
bad(
    "maxsim",
    "float16 overflow to inf",
    lambda fx: li().maxsim(with_value(Q, (0, 0), np.inf).astype(np.float16), D),
    InputError,
    "R-MAXSIM-9",
)
PACKED = np.vstack(D)
for name, offs in {
    "offsets not from 0": [1, 3, 8, 10],
    "offsets past the end": [0, 3, 8, 11],
    "decreasing offsets": [0, 8, 3, 10],
    "float offsets": [0.0, 3.0, 10.0],
    "negative offsets": [-1, 10],
    "offsets beyond int64": [0, 2**63 + 5],
    "offsets of one value": [0],
    "a huge length": [0, 2**62],
}.items():
    bad("maxsim", name, lambda fx, o=offs: li().maxsim(Q, (PACKED, o)), InputError, "R-MAXSIM-4")
for t in (0, -1, 1025, 2**70, True, 1.0, "2"):
    bad(
        "maxsim",
        f"threads={t!r}",
        lambda fx, t=t: li().maxsim(Q, D, threads=t),
        InputError,
        "R-MAXSIM-13",
        repr(t),
    )
bad(
    "maxsim",
    "a 2-D second item: two documents, the second int64",
    lambda fx: li().maxsim(Q, (PACKED, [[0, 3], [8, 10]])),
    InputError,
    "R-MAXSIM-5",
    "document 1",
)
edge("maxsim", "non-contiguous queries", lambda fx: li().maxsim(strided(Q), D), close_to(EXPECTED))
edge("maxsim", "Fortran-order queries", lambda fx: li().maxsim(fortran(Q), D), close_to(EXPECTED))
edge(
    "maxsim",
    "non-contiguous documents",
    lambda fx: li().maxsim(Q, [strided(d) for d in D]),
    close_to(EXPECTED),
)
edge(
    "maxsim",
    "non-contiguous packed vectors",
    lambda fx: li().maxsim(Q, (strided(PACKED), [0, 3, 8, 10])),
    close_to(EXPECTED),
)
edge(
    "maxsim",
    "read-only arrays",
    lambda fx: li().maxsim(read_only(Q), [read_only(d) for d in D]),
    close_to(EXPECTED),
)
edge(
    "maxsim",
    "memory-mapped arrays",
    lambda fx: li().maxsim(
        mmapped(fx, Q), (mmapped(fx, PACKED), mmapped(fx, np.array([0, 3, 8, 10])))
    ),
    close_to(EXPECTED),
)
edge(
    "maxsim",
    "big-endian float32",
    lambda fx: li().maxsim(Q.astype(">f4"), [d.astype(">f4") for d in D]),
    close_to(EXPECTED),
)
edge(
    "maxsim",
    "float16 inputs",
    lambda fx: li().maxsim(Q.astype(np.float16), [d.astype(np.float16) for d in D]),
    close_to(oracle(Q.astype(np.float16), [d.astype(np.float16) for d in D])[None, :]),
)
edge("maxsim", "no document", lambda fx: li().maxsim(Q, []), shape_is((1, 0)))
edge("maxsim", "no query", lambda fx: li().maxsim([], D), shape_is((0, 3)))
edge(
    "maxsim",
    "a [n_docs, n_tokens, dim] array",
    lambda fx: li().maxsim(Q, np.stack([D[0], D[0]])),
    close_to(oracle(Q, [D[0], D[0]])[None, :]),
)

bad(
    "maxsim_pairwise",
    "1 query, 3 documents",
    lambda fx: li().maxsim_pairwise([Q], D),
    InputError,
    "R-MAXSIM-12",
    "1 queries and 3 documents",
)
bad(
    "maxsim_pairwise",
    "queries of dtype float64",
    lambda fx: li().maxsim_pairwise([Q.astype(np.float64)] * 3, D),
    InputError,
    "R-MAXSIM-5",
    "float64",
)
bad(
    "maxsim_pairwise",
    "NaN in a document",
    lambda fx: li().maxsim_pairwise([Q] * 3, [D[0], D[1], with_value(D[2], (1, 1), np.nan)]),
    InputError,
    "R-MAXSIM-9",
    "document 2, token 1, component 1",
)
bad(
    "maxsim_pairwise",
    "threads=0",
    lambda fx: li().maxsim_pairwise([Q] * 3, D, threads=0),
    InputError,
    "R-MAXSIM-13",
    "0",
)
edge("maxsim_pairwise", "no pair", lambda fx: li().maxsim_pairwise([], []), shape_is((0,)))
edge(
    "maxsim_pairwise",
    "non-contiguous and read-only",
    lambda fx: li().maxsim_pairwise([strided(Q)] * 3, [read_only(d) for d in D]),
    close_to(EXPECTED[0]),
)

for k in (0, -5, 2.0, None, True, "3", np.float32(2)):
    bad(
        "search_exact",
        f"k={k!r}",
        lambda fx, k=k: li().search_exact(Q, D, k=k),
        InputError,
        "R-SEARCH-2",
        repr(k),
    )
bad(
    "search_exact",
    "threads=-1",
    lambda fx: li().search_exact(Q, D, threads=-1),
    InputError,
    "R-MAXSIM-13",
    "-1",
)
bad(
    "search_exact",
    "NaN in a query",
    lambda fx: li().search_exact(with_value(Q, (0, 0), np.nan), D),
    InputError,
    "R-MAXSIM-9",
    "query 0, token 0, component 0",
)
bad(
    "search_exact",
    "dims differ",
    lambda fx: li().search_exact(Q[:, :4], D),
    InputError,
    "R-MAXSIM-7",
    "4",
    "8",
)


def ranked_all(got: Any) -> None:
    scores, ids = got
    order = np.argsort(-EXPECTED[0], kind="stable")
    assert ids.shape == (1, 3), ids.shape
    assert scores.shape == (1, 3), scores.shape
    assert ids[0].tolist() == order.tolist(), (ids, order)
    np.testing.assert_allclose(scores[0], EXPECTED[0][order], rtol=1e-5)


edge(
    "search_exact",
    "k beyond the collection (k=50, 3 documents)",
    lambda fx: li().search_exact(Q, D, k=50),
    ranked_all,
)
edge("search_exact", "k = 2**70", lambda fx: li().search_exact(Q, D, k=2**70), ranked_all)
edge("search_exact", "k = n_docs", lambda fx: li().search_exact(Q, D, k=3), ranked_all)
edge(
    "search_exact",
    "no document",
    lambda fx: li().search_exact(Q, [], k=5),
    lambda got: (shape_is((1, 0))(got[0]), shape_is((1, 0))(got[1])),
)
edge(
    "search_exact",
    "memory-mapped documents",
    lambda fx: li().search_exact(Q, (mmapped(fx, PACKED), [0, 3, 8, 10]), k=3),
    ranked_all,
)

bad(
    "Documents",
    "dtype float64",
    lambda fx: li().Documents([D[0].astype(np.float64)]),
    InputError,
    "R-MAXSIM-5",
    "float64",
)
bad(
    "Documents",
    "NaN",
    lambda fx: li().Documents([with_value(D[0], (2, 3), np.nan)]),
    InputError,
    "R-MAXSIM-9",
    "document 0, token 2, component 3",
)
bad(
    "Documents",
    "a document of no token",
    lambda fx: li().Documents([D[0], D[0][:0]]),
    InputError,
    "R-MAXSIM-8",
    "document 1",
)
for s in ("float16", "bf16", "", None, 32):
    bad(
        "Documents",
        f"storage={s!r}",
        lambda fx, s=s: li().Documents(D, storage=s),
        InputError,
        "R-MAXSIM-11",
        repr(s),
    )
bad(
    "Documents",
    "bfloat16 overflow",
    lambda fx: li().Documents([with_value(D[0], (1, 1), -3.4e38)], storage="bfloat16"),
    InputError,
    "R-MAXSIM-11",
    "overflows",
)
bad("Documents", "rank 1", lambda fx: li().Documents([D[0][0]]), InputError, "R-MAXSIM-6", "(8,)")
bad(
    "Documents",
    "an empty list: no dim",
    lambda fx: li().Documents([]),
    InputError,
    "R-MAXSIM-7",
    "dimension 0",
)


def length(n: int) -> Any:
    def check(got: Any) -> None:
        assert len(got) == n, len(got)

    return check


edge(
    "Documents",
    "no document of dim 8",
    lambda fx: li().Documents((np.zeros((0, DIM), np.float32), [0])),
    length(0),
)
edge(
    "Documents",
    "read-only memory-mapped packed",
    lambda fx: li().maxsim(
        Q, li().Documents((mmapped(fx, PACKED), read_only(np.array([0, 3, 8, 10]))))
    ),
    close_to(EXPECTED),
)
edge(
    "Documents",
    "non-contiguous, bfloat16 storage",
    lambda fx: li().maxsim(Q, li().Documents([strided(d) for d in D], storage="bfloat16")),
    close_to(EXPECTED, rtol=2e-2),
)


# ======================================== the on-disk index (R-INDEX, R-ISEARCH)
group("index")


def create(fx: Any, docs: Any = None, **kw: Any) -> Any:
    return li().Index.create(fx.path("new-index"), fx.docs if docs is None else docs, **kw)


def same_files_as_plain(fx: Any, docs: Any) -> Any:
    """Index.create of ``docs`` (a variant of the fixture's documents) writes the bytes the
    plain documents give."""
    a, b = fx.path("plain"), fx.path("variant")
    li().Index.create(a, fx.docs, seed=0)
    li().Index.create(b, docs(fx), seed=0)
    return [(f.name, f.read_bytes() == (b / f.name).read_bytes()) for f in sorted(a.iterdir())]


def all_same(got: Any) -> None:
    assert got, got
    assert all(same for _, same in got), got


bad(
    "Index.create",
    "a file where the folder goes",
    lambda fx: li().Index.create(fx.file("x"), fx.docs),
    InputError,
    "R-INDEX-6",
    "exists and is not an empty directory",
)
bad(
    "Index.create",
    "a folder holding another file",
    lambda fx: li().Index.create(fx.folder({"a.txt": "x"}), fx.docs),
    InputError,
    "R-INDEX-6",
    "is not an empty directory",
)
bad(
    "Index.create",
    "over an existing index",
    lambda fx: li().Index.create(fx.index_copy(), fx.docs),
    InputError,
    "R-INDEX-6",
)
bad(
    "Index.create",
    "no document",
    lambda fx: create(fx, []),
    InputError,
    "R-INDEX-5",
    "at least one document",
)
bad(
    "Index.create",
    "an empty stream",
    lambda fx: create(fx, iter([])),
    InputError,
    "R-INDEX-5",
    "at least one document",
)
bad(
    "Index.create",
    "3 ids for 5 documents",
    lambda fx: create(fx, ids=[1, 2, 3]),
    InputError,
    "R-INDEX-5",
    "3 ids for 5 documents",
)
bad(
    "Index.create",
    "ints and strings mixed",
    lambda fx: create(fx, ids=[1, 2, "c", 4, 5]),
    InputError,
    "R-INDEX-5",
    "'c'",
)
bad(
    "Index.create",
    "a duplicate id",
    lambda fx: create(fx, ids=[1, 1, 2, 3, 4]),
    InputError,
    "R-INDEX-5",
    "id 1 appears twice",
)
bad(
    "Index.create",
    "an id beyond int64",
    lambda fx: create(fx, ids=[1, 2, 3, 4, 2**64]),
    InputError,
    "R-INDEX-5",
    "int64",
)
bad(
    "Index.create",
    "a lone surrogate id",
    lambda fx: create(fx, ids=["a", "b", "c", "d", "\udcff"]),
    InputError,
    "R-INDEX-5",
    "'\\udcff'",
)
bad(
    "Index.create",
    "ids a string",
    lambda fx: create(fx, ids="abcde"),
    InputError,
    "R-INDEX-5",
    "'abcde'",
)
for nb in (0, 3, 8, -1, 2.0, True):
    bad(
        "Index.create",
        f"nbits={nb!r}",
        lambda fx, nb=nb: create(fx, nbits=nb),
        InputError,
        "R-QUANT-1",
        repr(nb),
    )
for s in (-1, 2**64, 1.5):
    bad(
        "Index.create",
        f"seed={s!r}",
        lambda fx, s=s: create(fx, seed=s),
        InputError,
        "R-KMEANS-2",
        repr(s),
    )
bad(
    "Index.create",
    "n_centroids=0",
    lambda fx: create(fx, n_centroids=0),
    InputError,
    "R-KMEANS-1",
    "0",
)
bad(
    "Index.create",
    "n_centroids beyond the tokens",
    lambda fx: create(fx, n_centroids=10**9),
    InputError,
    "R-KMEANS-1",
    "1000000000",
)
bad(
    "Index.create",
    "n_centroids=2**70",
    lambda fx: create(fx, n_centroids=2**70),
    InputError,
    "R-KMEANS-1",
    str(2**70),
)
bad("Index.create", "sample=0", lambda fx: create(fx, sample=0), InputError, "R-KMEANS-1", "0")
bad(
    "Index.create",
    "kmeans_iters=-1",
    lambda fx: create(fx, kmeans_iters=-1),
    InputError,
    "R-KMEANS-1",
    "-1",
)
bad(
    "Index.create",
    "kmeans_iters=10**6",
    lambda fx: create(fx, kmeans_iters=10**6),
    InputError,
    "R-KMEANS-1",
    "1000000",
)
bad(
    "Index.create",
    "metadata not JSON",
    lambda fx: create(fx, metadata={"a": object()}),
    InputError,
    "R-INDEX-4",
    "JSON",
)
bad(
    "Index.create",
    "metadata with NaN",
    lambda fx: create(fx, metadata={"a": float("nan")}),
    InputError,
    "R-INDEX-4",
)
bad(
    "Index.create",
    "metadata a list",
    lambda fx: create(fx, metadata=[1, 2]),
    InputError,
    "R-INDEX-4",
    "[1, 2]",
)
bad(
    "Index.create",
    "lock_timeout=-1",
    lambda fx: create(fx, lock_timeout=-1),
    InputError,
    "R-INDEX-14",
    "-1",
)
bad(
    "Index.create",
    "lock_timeout=nan",
    lambda fx: create(fx, lock_timeout=float("nan")),
    InputError,
    "R-INDEX-14",
    "nan",
)
bad(
    "Index.create",
    "segment_tokens=0",
    lambda fx: create(fx, segment_tokens=0),
    InputError,
    "R-INDEX-17",
    "0",
)
bad("Index.create", "threads=0", lambda fx: create(fx, threads=0), InputError, "R-MAXSIM-13", "0")
bad(
    "Index.create",
    "documents of dtype float64",
    lambda fx: create(fx, [d.astype(np.float64) for d in fx.docs]),
    InputError,
    "R-MAXSIM-5",
    "float64",
)
bad(
    "Index.create",
    "NaN in a document",
    lambda fx: create(fx, [*fx.docs[:2], with_value(fx.docs[2], (1, 2), np.nan)]),
    InputError,
    "R-MAXSIM-9",
    "document 2, token 1, component 2",
)
bad(
    "Index.create",
    "inf in a streamed batch",
    lambda fx: create(fx, iter([fx.docs[:2], [with_value(fx.docs[2], (0, 3), np.inf)]])),
    InputError,
    "R-MAXSIM-9",
    "batch 1",
    "component 3",
)
bad(
    "Index.create",
    "a streamed batch of another dim",
    lambda fx: create(fx, iter([fx.docs[:2], [np.ones((3, 4), np.float32)]])),
    InputError,
    "R-MAXSIM-7",
    "4",
    "8",
)
bad(
    "Index.create",
    "a streamed batch that is a string",
    lambda fx: create(fx, iter([fx.docs[:2], "abc"])),
    InputError,
    "R-MAXSIM-5",
    "batch 1",
)
bad(
    "Index.create",
    "a document of no token",
    lambda fx: create(fx, [fx.docs[0], fx.docs[0][:0]]),
    InputError,
    "R-MAXSIM-8",
    "document 1",
)
edge(
    "Index.create",
    "non-contiguous documents: the same files",
    lambda fx: same_files_as_plain(fx, lambda fx: [strided(d) for d in fx.docs]),
    all_same,
)
edge(
    "Index.create",
    "read-only documents: the same files",
    lambda fx: same_files_as_plain(fx, lambda fx: [read_only(d) for d in fx.docs]),
    all_same,
)
edge(
    "Index.create",
    "memory-mapped packed documents: the same files",
    lambda fx: same_files_as_plain(
        fx, lambda fx: (mmapped(fx, np.vstack(fx.docs)), np.cumsum([0] + [len(d) for d in fx.docs]))
    ),
    all_same,
)
edge(
    "Index.create",
    "float16 documents: searchable",
    lambda fx: len(create(fx, [d.astype(np.float16) for d in fx.docs])),
    length(5).__call__
    if False
    else (lambda n: None if n == 5 else (_ for _ in ()).throw(AssertionError(n))),
)

bad(
    "Index.open",
    "a missing folder",
    lambda fx: li().Index.open(fx.missing("no-index")),
    IndexFormatError,
    "R-INDEX-2",
    "no-index",
)
bad(
    "Index.open",
    "a file where the folder goes",
    lambda fx: li().Index.open(fx.file("x", "afile")),
    IndexFormatError,
    "R-INDEX-2",
    "afile",
)
bad(
    "Index.open",
    "an empty folder",
    lambda fx: li().Index.open(fx.folder(name="emptyfolder")),
    IndexFormatError,
    "R-INDEX-2",
    "MANIFEST",
)
bad(
    "Index.open",
    "a manifest of a newer format version",
    lambda fx: li().Index.open(fx.newer_index("manifest")),
    IndexFormatError,
    "R-INDEX-2",
    "MANIFEST",
    "format version 99",
)
bad(
    "Index.open",
    "a codec of a newer format version",
    lambda fx: li().Index.open(fx.newer_index("codec")),
    IndexFormatError,
    "R-INDEX-2",
    "codec-1.lti",
    "format version 99",
)


def truncated_segment(fx: Any) -> Any:
    p = fx.index_copy()
    seg = next(p.glob("segment-*.lti"))
    seg.write_bytes(seg.read_bytes()[:-7])
    return li().Index.open(p)


def manifest_removed(fx: Any) -> Any:
    p = fx.index_copy()
    (p / "MANIFEST").unlink()
    return li().Index.open(p)


def codec_is_a_folder(fx: Any) -> Any:
    p = fx.index_copy()
    codec = next(p.glob("codec-*.lti"))
    codec.unlink()
    codec.mkdir()
    return li().Index.open(p)


bad(
    "Index.open",
    "a truncated segment",
    truncated_segment,
    IndexFormatError,
    "R-INDEX-2",
    "segment-1.lti",
)
bad("Index.open", "no MANIFEST", manifest_removed, IndexFormatError, "R-INDEX-2", "MANIFEST")
bad(
    "Index.open",
    "the codec file is a folder",
    codec_is_a_folder,
    IndexFormatError,
    "R-INDEX-2",
    "codec-1.lti",
)


def search(fx: Any, q: Any = None, **kw: Any) -> Any:
    return fx.index().search(fx.query if q is None else q, **kw)


def all_five(fx_docs_order: Any = None) -> Any:
    def check(got: Any) -> None:
        (hits,) = got
        assert sorted(hits.ids) == [10, 11, 12, 13, 14], hits.ids
        assert list(hits.scores) == sorted(hits.scores, reverse=True), hits.scores

    return check


for k in (0, -1, 1.5, None, "3"):
    bad(
        "Index.search",
        f"k={k!r}",
        lambda fx, k=k: search(fx, k=k),
        InputError,
        "R-SEARCH-2",
        repr(k),
    )
edge(
    "Index.search",
    "k beyond the collection: every document, best first",
    lambda fx: search(fx, k=50),
    all_five(),
)
edge("Index.search", "k = 2**70", lambda fx: search(fx, k=2**70), all_five())
edge(
    "Index.search",
    "k beyond the collection equals exhaustive",
    lambda fx: (search(fx, k=50), search(fx, k=5, exhaustive=True)),
    lambda got: None if got[0][0].ids == got[1][0].ids else 1 / 0,
)
for name, kw in {
    "nprobe=0": {"nprobe": 0},
    "nprobe=-1": {"nprobe": -1},
    "nprobe beyond the centroids": {"nprobe": 10**6},
    "nprobe=2**70": {"nprobe": 2**70},
    "nprobe=1.5": {"nprobe": 1.5},
    "candidates=0": {"candidates": 0},
    "candidates='x'": {"candidates": "x"},
    "rescore=-3": {"rescore": -3},
    "rescore=True": {"rescore": True},
}.items():
    bad(
        "Index.search",
        name,
        lambda fx, kw=kw: search(fx, **kw),
        InputError,
        "R-ISEARCH-3",
        repr(next(iter(kw.values()))),
    )
bad(
    "Index.search",
    "exhaustive='yes'",
    lambda fx: search(fx, exhaustive="yes"),
    InputError,
    "R-ISEARCH-2",
    "'yes'",
)
bad("Index.search", "threads=0", lambda fx: search(fx, threads=0), InputError, "R-MAXSIM-13", "0")
bad(
    "Index.search",
    "allow a string",
    lambda fx: search(fx, allow="10"),
    InputError,
    "R-ISEARCH-7",
    "'10'",
)
bad(
    "Index.search",
    "allow of strings on int ids",
    lambda fx: search(fx, allow=["a"]),
    InputError,
    "R-ISEARCH-7",
    "'a'",
)
bad(
    "Index.search",
    "allow holding None",
    lambda fx: search(fx, allow=[10, None]),
    InputError,
    "R-ISEARCH-7",
    "None",
)
bad(
    "Index.search",
    "allow holding 1.5",
    lambda fx: search(fx, allow=[1.5]),
    InputError,
    "R-ISEARCH-7",
    "1.5",
)
bad(
    "Index.search",
    "allow of ints on string ids",
    lambda fx: fx.str_index().search(fx.query, allow=[1]),
    InputError,
    "R-ISEARCH-7",
    "1",
)
edge(
    "Index.search",
    "an empty allow-list: no result",
    lambda fx: search(fx, allow=[]),
    lambda got: None if got[0].ids == [] and len(got) == 1 else 1 / 0,
)
edge(
    "Index.search",
    "an allow-list of unknown ids: no result",
    lambda fx: search(fx, allow=[99]),
    lambda got: None if got[0].ids == [] else 1 / 0,
)
edge(
    "Index.search",
    "allow beyond k: every allowed one",
    lambda fx: search(fx, allow=[12, 10], k=9),
    lambda got: None if sorted(got[0].ids) == [10, 12] else 1 / 0,
)
bad(
    "Index.search",
    "query dim 4, index dim 8",
    lambda fx: search(fx, np.ones((2, 4), np.float32)),
    InputError,
    "R-MAXSIM-7",
    "4",
    "8",
)
bad(
    "Index.search",
    "queries of dtype float64",
    lambda fx: search(fx, fx.query.astype(np.float64)),
    InputError,
    "R-MAXSIM-5",
    "float64",
)
bad(
    "Index.search",
    "NaN in a query",
    lambda fx: search(fx, with_value(fx.query, (1, 2), np.nan)),
    InputError,
    "R-MAXSIM-9",
    "query 0, token 1, component 2",
)
bad(
    "Index.search",
    "a query of no token",
    lambda fx: search(fx, [fx.query, fx.query[:0]]),
    InputError,
    "R-MAXSIM-8",
    "query 1",
)
bad(
    "Index.search",
    "queries of rank 4",
    lambda fx: search(fx, fx.query[None, None]),
    InputError,
    "R-MAXSIM-6",
    "(1, 1, 4, 8)",
)
edge(
    "Index.search", "no query", lambda fx: search(fx, []), lambda got: None if got == [] else 1 / 0
)
edge(
    "Index.search",
    "non-contiguous, read-only, memory-mapped queries",
    lambda fx: (
        search(fx, [strided(fx.query), read_only(fx.query), mmapped(fx, fx.query)]),
        search(fx),
    ),
    lambda got: None if all(h.ids == got[1][0].ids for h in got[0]) else 1 / 0,
)

bad(
    "Index.search_defaults",
    "k=0",
    lambda fx: fx.index().search_defaults(0),
    InputError,
    "R-SEARCH-2",
    "0",
)
edge(
    "Index.search_defaults",
    "k=2**70",
    lambda fx: fx.index().search_defaults(2**70),
    lambda got: None if got["nprobe"] >= 1 and got["rescore"] >= 1 else 1 / 0,
)
for name, pos in {
    "-1": [-1],
    "5 of 5": [5],
    "1.0": [1.0],
    "[[1]]": [[1]],
    "'1'": "1",
    "True": [True],
}.items():
    bad(
        "Index.decode",
        f"position {name}",
        lambda fx, pos=pos: fx.index().decode(pos),
        InputError,
        "R-ISEARCH-5",
    )
edge(
    "Index.decode",
    "no position",
    lambda fx: fx.index().decode([]),
    lambda got: None if got == [] else 1 / 0,
)
edge(
    "Index.decode",
    "a repeated position",
    lambda fx: fx.index().decode([1, 1]),
    lambda got: None if [a.shape for a in got] == [(5, 8), (5, 8)] else 1 / 0,
)
for pos in (5, -1, "0", 1.0):
    bad(
        "Index.codes",
        f"position {pos!r}",
        lambda fx, pos=pos: fx.index().codes(pos),
        InputError,
        "R-ISEARCH-5",
        repr(pos),
    )


def added(fx: Any, docs: Any, ids: Any = None, **kw: Any) -> Any:
    return li().Index.open(fx.index_copy()).add(docs, ids, **kw)


bad(
    "Index.add",
    "documents of another dim",
    lambda fx: added(fx, [np.ones((3, 4), np.float32)]),
    InputError,
    "R-MAXSIM-7",
    "4",
    "8",
)
bad(
    "Index.add",
    "a live id",
    lambda fx: added(fx, [fx.docs[0]], [10]),
    InputError,
    "R-INDEX-5",
    "10",
)
bad(
    "Index.add",
    "a string id on int ids",
    lambda fx: added(fx, [fx.docs[0]], ["a"]),
    InputError,
    "R-INDEX-5",
    "integer ids",
)
bad(
    "Index.add",
    "no document",
    lambda fx: added(fx, []),
    InputError,
    "R-INDEX-5",
    "at least one document",
)
bad(
    "Index.add",
    "NaN",
    lambda fx: added(fx, [with_value(fx.docs[0], (0, 1), np.nan)]),
    InputError,
    "R-MAXSIM-9",
    "document 0, token 0, component 1",
)
bad(
    "Index.add",
    "upsert='yes'",
    lambda fx: added(fx, [fx.docs[0]], upsert="yes"),
    InputError,
    "R-INDEX-11",
    "'yes'",
)
bad(
    "Index.add",
    "2 ids for 1 document",
    lambda fx: added(fx, [fx.docs[0]], [20, 21]),
    InputError,
    "R-INDEX-5",
    "2 ids for 1",
)
edge(
    "Index.add",
    "read-only memory-mapped documents",
    lambda fx: added(fx, [read_only(fx.docs[0]), mmapped(fx, fx.docs[1])]).live_ids,
    lambda ids: None if ids == [10, 11, 12, 13, 14, 15, 16] else 1 / 0,
)


def deleted(fx: Any, ids: Any) -> Any:
    return li().Index.open(fx.index_copy()).delete(ids)


bad("Index.delete", "an unknown id", lambda fx: deleted(fx, [99]), InputError, "R-INDEX-10", "99")
bad(
    "Index.delete",
    "a string id on int ids",
    lambda fx: deleted(fx, ["a"]),
    InputError,
    "R-INDEX-5",
    "integer ids",
)
bad("Index.delete", "ids a scalar", lambda fx: deleted(fx, 10), InputError, "R-INDEX-10", "10")
bad(
    "Index.delete",
    "an id deleted before",
    lambda fx: deleted(fx, [10]).delete([10]),
    InputError,
    "R-INDEX-10",
    "10",
)
edge(
    "Index.delete",
    "no id: nothing committed",
    lambda fx: deleted(fx, []).generation,
    lambda g: None if g == 1 else 1 / 0,
)


def compacted(fx: Any, *args: Any, **kw: Any) -> Any:
    return li().Index.open(fx.index_copy()).compact(*args, **kw)


bad(
    "Index.compact",
    "refit='yes'",
    lambda fx: compacted(fx, "yes"),
    InputError,
    "R-INDEX-19",
    "'yes'",
)
bad(
    "Index.compact",
    "documents without refit",
    lambda fx: compacted(fx, documents=fx.docs),
    InputError,
    "R-INDEX-19",
    "documents given without refit=True",
)
bad(
    "Index.compact",
    "nbits without refit",
    lambda fx: compacted(fx, nbits=2),
    InputError,
    "R-INDEX-19",
    "nbits",
)
bad(
    "Index.compact",
    "refit without documents",
    lambda fx: compacted(fx, True),
    InputError,
    "R-INDEX-19",
    "needs documents",
)
bad(
    "Index.compact",
    "refit with 2 of 5 documents",
    lambda fx: compacted(fx, True, fx.docs[:2]),
    InputError,
    "R-INDEX-19",
    "2 documents",
    "5 live",
)
bad(
    "Index.compact",
    "refit documents of another dim",
    lambda fx: compacted(fx, True, [np.ones((3, 4), np.float32)] * 5),
    InputError,
    "R-INDEX-19",
    "dim 4",
)
bad(
    "Index.compact",
    "refit with nbits=3",
    lambda fx: compacted(fx, True, fx.docs, nbits=3),
    InputError,
    "R-QUANT-1",
    "3",
)
bad(
    "Index.compact",
    "refit with NaN",
    lambda fx: compacted(fx, True, [*fx.docs[:4], with_value(fx.docs[4], (0, 0), np.nan)]),
    InputError,
    "R-MAXSIM-9",
    "document 4",
)
edge(
    "Index.compact",
    "refit with read-only, non-contiguous documents",
    lambda fx: compacted(fx, True, [strided(read_only(d)) for d in fx.docs]).live_ids,
    lambda ids: None if ids == [10, 11, 12, 13, 14] else 1 / 0,
)


# ======================================== the encoder (R-ENC)
group("encoder")


def enc(fx: Any) -> Any:
    return fx.encoder


def pretrained(path: Any, **kw: Any) -> Any:
    return li().Encoder.from_pretrained(path, **({"backend": "numpy"} | kw))


def backbone(path: Any, **kw: Any) -> Any:
    return li().Encoder.from_backbone(path, **({"backend": "numpy", "embedding_size": 16} | kw))


def remove(rel: str) -> Any:
    return lambda p: (p / rel).unlink()


def write(rel: str, content: bytes | str) -> Any:
    return lambda p: (p / rel).write_bytes(
        content.encode() if isinstance(content, str) else content
    )


def edit_json(rel: str, change: Any) -> Any:
    import json

    def apply(p: Any) -> None:
        data = json.loads((p / rel).read_text())
        change(data)
        (p / rel).write_text(json.dumps(data))

    return apply


def truncate(rel: str, keep: float) -> Any:
    def apply(p: Any) -> None:
        blob = (p / rel).read_bytes()
        (p / rel).write_bytes(blob[: int(len(blob) * keep)])

    return apply


def safetensors_edit(rel: str, tensor: str, value: bytes | None = None, header: Any = None) -> Any:
    """Writes ``value`` over the first bytes of ``tensor``'s data, or ``header(dict)`` changes the
    JSON header (the data kept)."""
    import json
    import struct

    def apply(p: Any) -> None:
        blob = (p / rel).read_bytes()
        (n,) = struct.unpack_from("<Q", blob, 0)
        head = json.loads(blob[8 : 8 + n])
        data = bytearray(blob[8 + n :])
        if value is not None:
            start = head[tensor]["data_offsets"][0]
            data[start : start + len(value)] = value
        if header is not None:
            header(head)
        text = json.dumps(head).encode()
        (p / rel).write_bytes(struct.pack("<Q", len(text)) + text + bytes(data))

    return apply


def pop(key: str) -> Any:
    return lambda d: d.pop(key)


def put(key: str, value: Any) -> Any:
    return lambda d: d.__setitem__(key, value)


def no_special_tokens(p: Any) -> None:
    import json

    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        if (p / name).exists():
            data = json.loads((p / name).read_text())
            data = {k: v for k, v in data.items() if not k.endswith("_token")}
            data.pop("added_tokens_decoder", None)
            (p / name).write_text(json.dumps(data))


NAN32 = b"\x00\x00\xc0\x7f"
BROKEN: dict[str, tuple[Any, type[BaseException], str, tuple[str, ...]]] = {
    "no config.json": (remove("config.json"), WeightsError, "R-ENC-3", ("config.json",)),
    "no model.safetensors": (
        remove("model.safetensors"),
        WeightsError,
        "R-ENC-3",
        ("model.safetensors",),
    ),
    "no tokenizer.json": (remove("tokenizer.json"), WeightsError, "R-ENC-3", ("tokenizer.json",)),
    "no modules.json: a bare backbone": (
        remove("modules.json"),
        WeightsError,
        "R-ENC-1",
        ("bare backbone",),
    ),
    "no 1_Dense/config.json": (
        remove("1_Dense/config.json"),
        WeightsError,
        "R-ENC-3",
        ("1_Dense/config.json",),
    ),
    "no 1_Dense/model.safetensors": (
        remove("1_Dense/model.safetensors"),
        WeightsError,
        "R-ENC-3",
        ("1_Dense/model.safetensors",),
    ),
    "config.json not JSON": (
        write("config.json", "{not json"),
        WeightsError,
        "R-ENC-3",
        ("config.json", "not valid JSON"),
    ),
    "config.json not UTF-8": (
        write("config.json", b'{"a": "\xff"}'),
        WeightsError,
        "R-ENC-3",
        ("config.json",),
    ),
    "config.json a list": (
        write("config.json", "[]"),
        WeightsError,
        "R-ENC-3",
        ("config.json", "list"),
    ),
    "config.json a folder": (
        lambda p: ((p / "config.json").unlink(), (p / "config.json").mkdir()),
        WeightsError,
        "R-ENC-3",
        ("config.json",),
    ),
    "config.json: model_type gpt2": (
        edit_json("config.json", put("model_type", "gpt2")),
        WeightsError,
        "R-ENC-2",
        ("gpt2",),
    ),
    "config.json: no hidden_size": (
        edit_json("config.json", pop("hidden_size")),
        WeightsError,
        "R-ENC-3",
        (
            "config.json",
            "hidden_size",
        ),
    ),
    "config.json: hidden_size 'x'": (
        edit_json("config.json", put("hidden_size", "x")),
        WeightsError,
        "R-ENC-3",
        ("hidden_size", "'x'"),
    ),
    "config.json: vocab_size off": (
        edit_json("config.json", put("vocab_size", 100)),
        WeightsError,
        "R-ENC-3",
        ("word_embeddings",),
    ),
    "modules.json not JSON": (
        write("modules.json", "]["),
        WeightsError,
        "R-ENC-3",
        ("modules.json",),
    ),
    "modules.json empty list": (
        write("modules.json", "[]"),
        WeightsError,
        "R-ENC-3",
        ("modules.json",),
    ),
    "modules.json path leaves the folder": (
        edit_json("modules.json", lambda d: d[1].__setitem__("path", "../x")),
        WeightsError,
        "R-ENC-3",
        ("'../x'", "leaves the folder"),
    ),
    "modules.json module without path": (
        edit_json("modules.json", lambda d: d[1].pop("path")),
        WeightsError,
        "R-ENC-3",
        ("module 1",),
    ),
    "1_Dense/config.json: in_features 7": (
        edit_json("1_Dense/config.json", put("in_features", 7)),
        WeightsError,
        "R-ENC-3",
        ("in_features 7",),
    ),
    "1_Dense/config.json: activation Tanh": (
        edit_json(
            "1_Dense/config.json", put("activation_function", "torch.nn.modules.activation.Tanh")
        ),
        WeightsError,
        "R-ENC-3",
        ("Tanh",),
    ),
    "1_Dense/config.json: bias 'yes'": (
        edit_json("1_Dense/config.json", put("bias", "yes")),
        WeightsError,
        "R-ENC-3",
        ("bias", "'yes'"),
    ),
    "config_sentence_transformers.json not JSON": (
        write("config_sentence_transformers.json", "{"),
        WeightsError,
        "R-ENC-3",
        ("config_sentence_transformers.json",),
    ),
    "config_sentence_transformers.json: query_length 2": (
        edit_json("config_sentence_transformers.json", put("query_length", 2)),
        WeightsError,
        "R-ENC-3",
        ("query_length", "2"),
    ),
    "config_sentence_transformers.json: document_length 4096": (
        edit_json("config_sentence_transformers.json", put("document_length", 4096)),
        WeightsError,
        "R-ENC-3",
        ("document_length 4096", "512"),
    ),
    "config_sentence_transformers.json: skiplist_words 'x'": (
        edit_json("config_sentence_transformers.json", put("skiplist_words", "x")),
        WeightsError,
        "R-ENC-3",
        ("skiplist_words",),
    ),
    "config_sentence_transformers.json: query prefix of two tokens": (
        edit_json("config_sentence_transformers.json", put("query_prefix", "two words")),
        WeightsError,
        "R-ENC-4",
        ("'two words'",),
    ),
    "sentence_bert_config.json: do_lower_case 1": (
        edit_json("sentence_bert_config.json", put("do_lower_case", 1)),
        WeightsError,
        "R-ENC-3",
        ("do_lower_case",),
    ),
    "tokenizer.json not JSON": (
        write("tokenizer.json", "{oops"),
        WeightsError,
        "R-ENC-3",
        ("tokenizer.json",),
    ),
    "tokenizer.json empty": (
        write("tokenizer.json", ""),
        WeightsError,
        "R-ENC-3",
        ("tokenizer.json",),
    ),
    "tokenizer.json not UTF-8": (
        write("tokenizer.json", b"\xff\xfe"),
        WeightsError,
        "R-ENC-3",
        ("tokenizer.json",),
    ),
    "tokenizer_config.json: padding_side 'up'": (
        edit_json("tokenizer_config.json", put("padding_side", "up")),
        WeightsError,
        "R-ENC-3",
        ("padding_side", "'up'"),
    ),
    "a tokenizer without mask, end or pad token": (
        no_special_tokens,
        WeightsError,
        "R-ENC-5",
        ("tokenizer.json",),
    ),
    "model.safetensors truncated to half": (
        truncate("model.safetensors", 0.5),
        WeightsError,
        "R-ENC-3",
        ("model.safetensors",),
    ),
    "model.safetensors truncated to 5 bytes": (
        truncate("model.safetensors", 5 / 2**20),
        WeightsError,
        "R-ENC-3",
        ("model.safetensors",),
    ),
    "model.safetensors empty": (
        write("model.safetensors", b""),
        WeightsError,
        "R-ENC-3",
        ("model.safetensors",),
    ),
    "model.safetensors header length 2**60": (
        write("model.safetensors", (2**60).to_bytes(8, "little") + b"{}"),
        WeightsError,
        "R-ENC-3",
        ("model.safetensors",),
    ),
    "model.safetensors garbage": (
        write("model.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!"),
        WeightsError,
        "R-ENC-3",
        ("model.safetensors",),
    ),
    "model.safetensors: NaN in the word embeddings": (
        safetensors_edit("model.safetensors", "embeddings.word_embeddings.weight", NAN32),
        WeightsError,
        "R-ENC-3",
        ("word_embeddings", "NaN"),
    ),
    "model.safetensors: a tensor missing": (
        safetensors_edit(
            "model.safetensors",
            "",
            header=lambda h: h.__setitem__(
                "renamed", h.pop("encoder.layer.0.attention.self.query.weight")
            ),
        ),
        WeightsError,
        "R-ENC-3",
        ("encoder.layer.0.attention.self.query.weight",),
    ),
    "model.safetensors: a tensor of dtype I32": (
        safetensors_edit(
            "model.safetensors",
            "",
            header=lambda h: h["embeddings.LayerNorm.gamma"].__setitem__("dtype", "I32"),
        ),
        WeightsError,
        "R-ENC-3",
        ("embeddings.LayerNorm", "int32"),
    ),
    "model.safetensors: offsets beyond the data": (
        safetensors_edit(
            "model.safetensors",
            "",
            header=lambda h: h["embeddings.LayerNorm.gamma"].__setitem__(
                "data_offsets", [0, 2**40]
            ),
        ),
        WeightsError,
        "R-ENC-3",
        ("model.safetensors",),
    ),
    "1_Dense/model.safetensors truncated": (
        truncate("1_Dense/model.safetensors", 0.6),
        WeightsError,
        "R-ENC-3",
        ("1_Dense/model.safetensors",),
    ),
    "1_Dense/model.safetensors: inf in the weight": (
        safetensors_edit("1_Dense/model.safetensors", "linear.weight", b"\x00\x00\x80\x7f"),
        WeightsError,
        "R-ENC-3",
        ("linear.weight",),
    ),
    "1_Dense/model.safetensors: weight of the wrong shape": (
        safetensors_edit(
            "1_Dense/model.safetensors",
            "",
            header=lambda h: h["linear.weight"].__setitem__("shape", [16, 64]),
        ),
        WeightsError,
        "R-ENC-3",
        ("linear.weight",),
    ),
}
for name, (edit, error, req, names) in BROKEN.items():
    bad(
        "Encoder.from_pretrained",
        name,
        lambda fx, e=edit: pretrained(fx.model_copy(edit=e)),
        error,
        req,
        *names,
    )
bad(
    "Encoder.from_pretrained",
    "a missing folder",
    lambda fx: pretrained(fx.missing("no-model")),
    FileNotFoundError,
    None,
    "no-model",
)
bad(
    "Encoder.from_pretrained",
    "a file where the folder goes",
    lambda fx: pretrained(fx.file("x", "a-file")),
    FileNotFoundError,
    None,
    "a-file",
)
bad(
    "Encoder.from_pretrained",
    "an unreadable config.json",
    lambda fx: pretrained(fx.model_copy(edit=lambda p: (p / "config.json").chmod(0))),
    WeightsError,
    "R-ENC-3",
    "config.json",
    skip=ROOT_READS_ALL,
)
bad(
    "Encoder.from_pretrained",
    "a bare backbone (tiny ModernBERT's backbone)",
    lambda fx: pretrained(fx.model_copy(TINY_MODERNBERT, remove("modules.json"))),
    WeightsError,
    "R-ENC-1",
    "bare backbone",
)
for name, kw, req, named in (
    ("backend 'jax'", {"backend": "jax"}, "R-ENC-10", "'jax'"),
    ("precision 'float8'", {"precision": "float8"}, "R-ENC-10", "'float8'"),
    ("precision bfloat16 on numpy", {"precision": "bfloat16"}, "R-ENC-10", "numpy"),
    ("query_length 2", {"query_length": 2}, "R-ENC-10", "2"),
    ("query_length True", {"query_length": True}, "R-ENC-10", "True"),
    ("query_length 10**6", {"query_length": 10**6}, "R-ENC-10", "1000000"),
    ("document_length 513", {"document_length": 513}, "R-ENC-10", "513"),
    ("an unknown setting", {"colour": "red"}, "R-ENC-10", "colour"),
    ("query_prefix 5", {"query_prefix": 5}, "R-ENC-10", "5"),
    ("skiplist_words a string", {"skiplist_words": "abc"}, "R-ENC-10", "'abc'"),
    ("do_query_expansion 'no'", {"do_query_expansion": "no"}, "R-ENC-10", "'no'"),
):
    bad(
        "Encoder.from_pretrained",
        name,
        lambda fx, kw=kw: pretrained(TINY_BERT, **kw),
        InputError,
        req,
        named,
    )
edge(
    "Encoder.from_pretrained",
    "document_length 512 on a 512-position BERT",
    lambda fx: pretrained(TINY_BERT, document_length=512).encode(["word " * 1000], is_query=False),
    lambda got: None if got[0].shape == (512, 32) else 1 / 0,
)
for name, kw, named in (
    ("embedding_size 0", {"embedding_size": 0}, "0"),
    ("embedding_size True", {"embedding_size": True}, "True"),
    ("embedding_size 1.5", {"embedding_size": 1.5}, "1.5"),
    ("seed -1", {"seed": -1}, "-1"),
    ("seed 'a'", {"seed": "a"}, "'a'"),
    ("backend 'tf'", {"backend": "tf"}, "'tf'"),
    ("query_length 0", {"query_length": 0}, "0"),
):
    bad(
        "Encoder.from_backbone",
        name,
        lambda fx, kw=kw: backbone(TINY_BERT, **kw),
        InputError,
        "R-ENC-10",
        named,
    )
bad(
    "Encoder.from_backbone",
    "a missing folder",
    lambda fx: backbone(fx.missing("no-backbone")),
    FileNotFoundError,
    None,
    "no-backbone",
)
bad(
    "Encoder.from_backbone",
    "a truncated backbone",
    lambda fx: backbone(fx.model_copy(edit=truncate("model.safetensors", 0.3))),
    WeightsError,
    "R-ENC-3",
    "model.safetensors",
)
bad(
    "Encoder.from_backbone",
    "a tokenizer without special tokens",
    lambda fx: backbone(fx.model_copy(edit=no_special_tokens)),
    WeightsError,
    "R-ENC-5",
)
edge(
    "Encoder.from_backbone",
    "a ModernBERT backbone",
    lambda fx: backbone(fx.model_copy(TINY_MODERNBERT, remove("modules.json"))).encode(
        ["a text"], is_query=True
    ),
    lambda got: None if got[0].shape == (32, 16) else 1 / 0,
)


def unit_rows(n_rows: int | None = None) -> Any:
    def check(got: Any) -> None:
        (e,) = got
        assert e.dtype == np.float32, e.dtype
        assert e.ndim == 2, e.shape
        assert e.shape[1] == 32, e.shape
        if n_rows is not None:
            assert e.shape[0] == n_rows, e.shape
        assert np.isfinite(e).all()
        np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, rtol=1e-5)

    return check


for name, texts, named in (
    ("texts None", None, "None"),
    ("texts an int", 5, "5"),
    ("texts bytes", b"abc", "b'abc'"),
    ("a bytes text", [b"\xff"], "bytes"),
    ("a None text", ["a", None], "NoneType"),
    ("a lone surrogate", ["ok", "ab\udcffcd"], "text 1"),
):
    bad(
        "Encoder.encode",
        name,
        lambda fx, t=texts: enc(fx).encode(t, is_query=False),
        InputError,
        "R-ENC-10",
        named,
    )
for q in ("yes", None, 1):
    bad(
        "Encoder.encode",
        f"is_query={q!r}",
        lambda fx, q=q: enc(fx).encode(["a"], is_query=q),
        InputError,
        "R-ENC-10",
        repr(q),
    )
for b in (0, -1, 1.5, True):
    bad(
        "Encoder.encode",
        f"batch_size={b!r}",
        lambda fx, b=b: enc(fx).encode(["a"], is_query=False, batch_size=b),
        InputError,
        "R-ENC-10",
        repr(b),
    )
edge(
    "Encoder.encode",
    "no text",
    lambda fx: enc(fx).encode([], is_query=False),
    lambda got: None if got == [] else 1 / 0,
)
edge(
    "Encoder.encode",
    "an empty document: its special tokens",
    lambda fx: enc(fx).encode([""], is_query=False),
    unit_rows(3),
)
edge(
    "Encoder.encode",
    "an empty query: query_length rows",
    lambda fx: enc(fx).encode([""], is_query=True),
    unit_rows(8),
)
edge(
    "Encoder.encode",
    "a document of 50,000 words: document_length rows",
    lambda fx: enc(fx).encode(["word " * 50_000], is_query=False),
    unit_rows(24),
)
edge(
    "Encoder.encode",
    "a query of 10,000 words: query_length rows",
    lambda fx: enc(fx).encode(["word " * 10_000], is_query=True),
    unit_rows(8),
)
edge(
    "Encoder.encode",
    "NUL and control characters",
    lambda fx: enc(fx).encode(["\x00\x01\x7f"], is_query=False),
    unit_rows(),
)
edge(
    "Encoder.encode",
    "punctuation only (the skiplist)",
    lambda fx: enc(fx).encode(["!!! ... ???"], is_query=False),
    unit_rows(3),
)
edge(
    "Encoder.encode",
    "one string, not a list",
    lambda fx: enc(fx).encode("a text", is_query=True),
    unit_rows(8),
)
edge(
    "Encoder.encode",
    "U+FFFD and emoji",
    lambda fx: enc(fx).encode(["\ufffd \U0001f600"], is_query=False),
    unit_rows(),
)
bad(
    "Encoder.tokenize",
    "a lone surrogate",
    lambda fx: enc(fx).tokenize(["\ud800"], is_query=True),
    InputError,
    "R-ENC-10",
    "text 0",
)
bad(
    "Encoder.tokenize",
    "is_query='no'",
    lambda fx: enc(fx).tokenize(["a"], is_query="no"),
    InputError,
    "R-ENC-10",
    "'no'",
)
bad(
    "Encoder.tokenize",
    "an int text",
    lambda fx: enc(fx).tokenize([3], is_query=True),
    InputError,
    "R-ENC-10",
    "int",
)
edge(
    "Encoder.tokenize",
    "no text",
    lambda fx: enc(fx).tokenize([], is_query=True),
    lambda got: None if got[0].shape[0] == 0 else 1 / 0,
)
bad(
    "Encoder.truncated",
    "a None text",
    lambda fx: enc(fx).truncated([None]),
    InputError,
    "R-ENC-10",
    "NoneType",
)
bad(
    "Encoder.truncated",
    "a lone surrogate",
    lambda fx: enc(fx).truncated(["\udfff"]),
    InputError,
    "R-ENC-10",
    "text 0",
)
edge(
    "Encoder.truncated",
    "a long and a short text",
    lambda fx: enc(fx).truncated(["word " * 100, "a"]),
    lambda n: None if n == 1 else 1 / 0,
)
bad(
    "Encoder.save_pretrained",
    "a file where the folder goes",
    lambda fx: enc(fx).save_pretrained(fx.file("x", "save-file")),
    FileExistsError,
    None,
    "save-file",
)


# ======================================== the retriever (R-RET)
group("retriever")


def rbuild(fx: Any, corpus: Any, model: Any = TINY_BERT, **kw: Any) -> Any:
    return li().Retriever.build(fx.path("ret"), model, corpus, **({"backend": "numpy"} | kw))


PAIRS = [("a", "the wing bends"), ("b", "laminar flow")]
bad(
    "Retriever.build",
    "a missing model folder",
    lambda fx: rbuild(fx, PAIRS, fx.missing("no-model")),
    InputError,
    "R-RET-2",
    "model folder not found",
    "no-model",
)
bad(
    "Retriever.build",
    "a bare backbone without projection",
    lambda fx: rbuild(fx, PAIRS, fx.model_copy(edit=remove("modules.json"))),
    InputError,
    "R-RET-2",
    "projection",
)
bad(
    "Retriever.build",
    "projection='learned'",
    lambda fx: rbuild(fx, PAIRS, projection="learned"),
    InputError,
    "R-RET-2",
    "'learned'",
)
bad(
    "Retriever.build",
    "a corpus item that is not a pair",
    lambda fx: rbuild(fx, [("a", "x"), "b"]),
    InputError,
    "R-RET-1",
    "corpus item 1",
)
bad(
    "Retriever.build",
    "a text that is bytes",
    lambda fx: rbuild(fx, [("a", b"\xff")]),
    InputError,
    "R-RET-1",
    "corpus item 0",
)
bad(
    "Retriever.build",
    "a text with a lone surrogate",
    lambda fx: rbuild(fx, [("a", "x\udcffy")]),
    InputError,
    "R-RET-1",
    "not valid Unicode",
)
bad(
    "Retriever.build",
    "ids mixed",
    lambda fx: rbuild(fx, [("a", "x"), (2, "y")]),
    InputError,
    "R-INDEX-5",
    "all ints or all strings",
)
bad(
    "Retriever.build",
    "a duplicate id",
    lambda fx: rbuild(fx, [("a", "x"), ("a", "y")]),
    InputError,
    "R-INDEX-5",
    '"a" appears twice',
)
bad(
    "Retriever.build",
    "an id None",
    lambda fx: rbuild(fx, [(None, "x")]),
    InputError,
    "R-INDEX-5",
    "None",
)
bad(
    "Retriever.build",
    "commit_every=0",
    lambda fx: rbuild(fx, PAIRS, commit_every=0),
    InputError,
    "R-RET-1",
    "0",
)
bad(
    "Retriever.build",
    "batch_size=0",
    lambda fx: rbuild(fx, PAIRS, batch_size=0),
    InputError,
    "R-ENC-10",
    "0",
)
bad(
    "Retriever.build",
    "nbits=5",
    lambda fx: rbuild(fx, PAIRS, nbits=5),
    InputError,
    "R-QUANT-1",
    "5",
)
bad(
    "Retriever.build",
    "backend 'jax'",
    lambda fx: rbuild(fx, PAIRS, backend="jax"),
    InputError,
    "R-ENC-10",
    "'jax'",
)
bad(
    "Retriever.build",
    "an index folder that is a file",
    lambda fx: li().Retriever.build(fx.file("x", "ret-file"), TINY_BERT, PAIRS, backend="numpy"),
    InputError,
    "R-RET-3",
    "ret-file",
)
bad(
    "Retriever.build",
    "over an index of raw vectors",
    lambda fx: li().Retriever.build(fx.index_copy(), TINY_BERT, PAIRS, backend="numpy"),
    InputError,
    "R-RET-3",
)
bad("Retriever.build", "no document", lambda fx: rbuild(fx, []), InputError, "R-RET-1")
bad(
    "Retriever.build",
    "only empty documents",
    lambda fx: rbuild(fx, [("a", ""), ("b", "   ")]),
    InputError,
    "R-RET-1",
    "no document that is not empty",
)
edge(
    "Retriever.build",
    "an empty text among others: skipped",
    lambda fx: rbuild(fx, [("a", ""), ("b", "x y")]).index.live_ids,
    lambda ids: None if ids == ["b"] else 1 / 0,
)
edge(
    "Retriever.build",
    "a text of 20,000 words",
    lambda fx: rbuild(fx, [("a", "word " * 20_000), ("b", "x")]).index.n_tokens,
    lambda n: None if n == 24 + 4 else 1 / 0,
)
bad(
    "Retriever.open",
    "a missing folder",
    lambda fx: li().Retriever.open(fx.missing("no-ret"), backend="numpy"),
    IndexFormatError,
    "R-INDEX-2",
    "no-ret",
)
bad(
    "Retriever.open",
    "an index of raw vectors",
    lambda fx: li().Retriever.open(fx.index_dir, backend="numpy"),
    InputError,
    "R-RET-2",
    "records no retriever model",
)
bad(
    "Retriever.open",
    "model_dir missing",
    lambda fx: li().Retriever.open(
        fx.retriever_dir, model_dir=fx.missing("moved"), backend="numpy"
    ),
    InputError,
    "R-RET-9",
    "moved",
)
bad(
    "Retriever.open",
    "model_dir another model",
    lambda fx: li().Retriever.open(fx.retriever_dir, model_dir=TINY_MODERNBERT, backend="numpy"),
    InputError,
    "R-RET-9",
    "tiny-modernbert",
)
bad(
    "Retriever.open",
    "a newer index format",
    lambda fx: li().Retriever.open(fx.newer_index("codec"), backend="numpy"),
    IndexFormatError,
    "R-INDEX-2",
    "format version 99",
)


def ret(fx: Any) -> Any:
    return fx.retriever()


for k in (0, -1, "3"):
    bad(
        "Retriever.search",
        f"k={k!r}",
        lambda fx, k=k: ret(fx).search("wing", k=k),
        InputError,
        "R-SEARCH-2",
        repr(k),
    )
bad(
    "Retriever.search",
    "a None query",
    lambda fx: ret(fx).search(["wing", None]),
    InputError,
    "R-ENC-10",
    "NoneType",
)
bad(
    "Retriever.search",
    "a lone surrogate",
    lambda fx: ret(fx).search("\udcff"),
    InputError,
    "R-ENC-10",
    "text 0",
)
bad(
    "Retriever.search",
    "an unknown parameter",
    lambda fx: ret(fx).search("wing", depth=3),
    TypeError,
    None,
    "depth",
)
edge(
    "Retriever.search",
    "k beyond the collection: every document",
    lambda fx: ret(fx).search("wing", k=100),
    lambda got: None if sorted(got[0].ids) == ["d1", "d2", "d3", "d4"] else 1 / 0,
)
edge(
    "Retriever.search",
    "an empty query text",
    lambda fx: ret(fx).search("", k=2),
    lambda got: None if len(got[0].ids) == 2 else 1 / 0,
)
edge(
    "Retriever.search",
    "no query",
    lambda fx: ret(fx).search([]),
    lambda got: None if got == [] else 1 / 0,
)
bad(
    "Retriever.search_embeddings",
    "dim 4 queries",
    lambda fx: ret(fx).search_embeddings(np.ones((2, 4), np.float32)),
    InputError,
    "R-MAXSIM-7",
    "4",
    "32",
)
bad(
    "Retriever.search_embeddings",
    "float64 queries",
    lambda fx: ret(fx).search_embeddings(np.ones((2, 32))),
    InputError,
    "R-MAXSIM-5",
    "float64",
)
bad(
    "Retriever.rerank",
    "a candidate that is not a pair",
    lambda fx: ret(fx).rerank("q", ["x"]),
    InputError,
    "R-RET-1",
    "'x'",
)
bad(
    "Retriever.rerank",
    "a None query",
    lambda fx: ret(fx).rerank(None, [("a", "x")]),
    InputError,
    "R-ENC-10",
    "NoneType",
)
bad(
    "Retriever.rerank",
    "k=0",
    lambda fx: ret(fx).rerank("q", [("a", "x")], k=0),
    InputError,
    "R-RET-5",
    "0",
)
edge(
    "Retriever.rerank",
    "no candidate",
    lambda fx: ret(fx).rerank("q", []),
    lambda got: None if got.ids == [] else 1 / 0,
)
edge(
    "Retriever.rerank",
    "k beyond the candidates",
    lambda fx: ret(fx).rerank("wing", [("a", "x"), ("b", "wing")], k=10),
    lambda got: None if sorted(got.ids) == ["a", "b"] else 1 / 0,
)


def ret_copy(fx: Any) -> Any:
    import shutil

    p = fx.path("ret-copy")
    shutil.copytree(fx.retriever_dir, p)
    return li().Retriever.open(p, backend="numpy")


bad(
    "Retriever.add",
    "a live id",
    lambda fx: ret_copy(fx).add([("d1", "again")]),
    InputError,
    "R-INDEX-5",
    "d1",
)
bad(
    "Retriever.add",
    "an int id on string ids",
    lambda fx: ret_copy(fx).add([(5, "x")]),
    InputError,
    "R-INDEX-5",
)
bad(
    "Retriever.add",
    "a bytes text",
    lambda fx: ret_copy(fx).add([("z", b"x")]),
    InputError,
    "R-RET-1",
    "corpus item 0",
)
bad(
    "Retriever.add",
    "upsert='no'",
    lambda fx: ret_copy(fx).add([("z", "x")], upsert="no"),
    InputError,
    "R-INDEX-11",
    "'no'",
)
bad(
    "Retriever.delete",
    "an unknown id",
    lambda fx: ret_copy(fx).delete(["zz"]),
    InputError,
    "R-INDEX-10",
    "zz",
)
bad(
    "Retriever.delete",
    "ids a string",
    lambda fx: ret_copy(fx).delete("d1"),
    InputError,
    "R-INDEX-10",
    "'d1'",
)
bad(
    "Retriever.compact",
    "refit=1",
    lambda fx: ret_copy(fx).compact(refit=1),
    InputError,
    "R-INDEX-19",
    "1",
)
bad(
    "Retriever.compact",
    "lock_timeout=-2",
    lambda fx: ret_copy(fx).compact(lock_timeout=-2),
    InputError,
    "R-INDEX-14",
    "-2",
)
edge(
    "Retriever.text",
    "an unknown id: None",
    lambda fx: ret(fx).text("nope"),
    lambda got: None if got is None else 1 / 0,
)
edge(
    "Retriever.text",
    "an id of the other kind: None",
    lambda fx: ret(fx).text(3),
    lambda got: None if got is None else 1 / 0,
)


# ======================================== evaluation and BEIR (R-EVAL, R-BEIR)
group("evaluation")


def ev() -> Any:
    from lateint_ref import evaluation

    return evaluation


def beir() -> Any:
    from lateint_ref.evaluation import beir as b

    return b


RUN = {"q1": {"d1": 2.0, "d2": 1.0}, "q2": {"d3": 1.0}}
QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1}}
for name, run, req, named in (
    ("run a list", [1, 2], "R-EVAL-1", "[1, 2]"),
    ("a NaN score", {"q1": {"d1": float("nan")}}, "R-EVAL-1", "nan"),
    ("an inf score", {"q1": {"d1": float("inf")}}, "R-EVAL-1", "inf"),
    ("a string score", {"q1": {"d1": "high"}}, "R-EVAL-1", "'high'"),
    ("an empty query id", {"": {"d1": 1.0}}, "R-EVAL-1", "empty"),
    ("a float doc id", {"q1": {1.5: 1.0}}, "R-EVAL-1", "1.5"),
    ("a None ranking", {"q1": None}, "R-EVAL-1", "None"),
):
    bad(
        "evaluation.evaluate",
        name,
        lambda fx, r=run: ev().evaluate(r, QRELS),
        InputError,
        req,
        named,
    )
for name, qrels, req, named in (
    ("qrels a list", [1], "R-EVAL-1", "[1]"),
    ("a relevance 1.5", {"q1": {"d1": 1.5}}, "R-EVAL-1", "1.5"),
    ("a relevance 'yes'", {"q1": {"d1": "yes"}}, "R-EVAL-1", "'yes'"),
):
    bad(
        "evaluation.evaluate",
        name,
        lambda fx, q=qrels: ev().evaluate(RUN, q),
        InputError,
        req,
        named,
    )
for m in ("ndcg@0", "ndcg@-1", "ndcg@x", "bleu", "", "ndcg@10.5"):
    bad(
        "evaluation.evaluate",
        f"metric {m!r}",
        lambda fx, m=m: ev().evaluate(RUN, QRELS, [m]),
        InputError,
        "R-EVAL-9",
        repr(m),
    )
bad(
    "evaluation.evaluate",
    "no metric",
    lambda fx: ev().evaluate(RUN, QRELS, []),
    InputError,
    "R-EVAL-9",
)
bad(
    "evaluation.evaluate",
    "missing='drop'",
    lambda fx: ev().evaluate(RUN, QRELS, missing="drop"),
    InputError,
    "R-EVAL-8",
    "'drop'",
)
bad(
    "evaluation.evaluate",
    "no judged query in the run",
    lambda fx: ev().evaluate({"qx": {"d1": 1.0}}, QRELS),
    InputError,
    "R-EVAL-8",
)
edge(
    "evaluation.evaluate",
    "an empty ranking counts 0",
    lambda fx: ev().evaluate({"q1": {}, "q2": {"d2": 1.0}}, QRELS, ["ndcg@10"]),
    lambda got: None if abs(got["ndcg@10"] - 0.5) < 1e-12 else 1 / 0,
)
edge(
    "evaluation.evaluate",
    "k beyond the ranking",
    lambda fx: ev().evaluate(RUN, QRELS, ["recall@1000000"]),
    lambda got: None if got["recall@1000000"] == 0.5 else 1 / 0,
)
for k in (0, -3, 2.5, "10", True):
    for fn in ("ndcg", "recall", "mrr", "map_at"):
        bad(
            f"evaluation.{fn}",
            f"k={k!r}",
            lambda fx, k=k, fn=fn: getattr(ev(), fn)(RUN, QRELS, k),
            InputError,
            "R-EVAL-9",
            repr(k),
        )
edge(
    "evaluation.ndcg",
    "k = 2**70",
    lambda fx: ev().ndcg(RUN, QRELS, 2**70),
    lambda got: None if 0 < got <= 1 else 1 / 0,
)
bad(
    "evaluation.ranked",
    "ids and scores of different lengths",
    lambda fx: ev().ranked((["a", "b"], [1.0])),
    InputError,
    "R-EVAL-1",
    "expected a (doc id, score) pair",
)
bad(
    "evaluation.ranked",
    "a doc ranked twice",
    lambda fx: ev().ranked([("a", 1.0), ("a", 2.0)]),
    InputError,
    "R-EVAL-2",
    "'a'",
)
bad(
    "evaluation.ranked",
    "a string",
    lambda fx: ev().ranked("abc"),
    InputError,
    "R-EVAL-1",
    "got str",
)
bad(
    "evaluation.read_run",
    "a missing file",
    lambda fx: ev().read_run(fx.missing("no-run")),
    FileNotFoundError,
    None,
    "no-run",
)
bad(
    "evaluation.read_run",
    "a folder",
    lambda fx: ev().read_run(fx.folder(name="run-dir")),
    IsADirectoryError,
    None,
    "run-dir",
)
bad(
    "evaluation.read_run",
    "a line of 4 fields",
    lambda fx: ev().read_run(fx.file("q1 Q0 d1 1\n", "run4")),
    InputError,
    "R-EVAL-12",
    "run4",
    "line 1",
)
bad(
    "evaluation.read_run",
    "a score 'x'",
    lambda fx: ev().read_run(fx.file("q1 Q0 d1 1 x tag\n", "runx")),
    InputError,
    "R-EVAL-12",
    "line 1",
)
bad(
    "evaluation.read_run",
    "a NaN score",
    lambda fx: ev().read_run(fx.file("q1 Q0 d1 1 nan tag\n", "runnan")),
    InputError,
    "R-EVAL-12",
    "line 1",
)
bad(
    "evaluation.read_run",
    "not UTF-8",
    lambda fx: ev().read_run(fx.file(b"q1 Q0 d\xff 1 1.0 t\n", "run8")),
    InputError,
    "R-EVAL-12",
    "run8",
)
bad(
    "evaluation.read_run",
    "unreadable",
    lambda fx: ev().read_run(fx.unreadable("run-locked")),
    PermissionError,
    None,
    "run-locked",
    skip=ROOT_READS_ALL,
)
edge(
    "evaluation.read_run",
    "an empty file",
    lambda fx: ev().read_run(fx.file("", "run-empty")),
    lambda got: None if got == {} else 1 / 0,
)
bad(
    "evaluation.read_qrels",
    "a relevance 'x'",
    lambda fx: ev().read_qrels(fx.file("q1 0 d1 x\n", "qrx")),
    InputError,
    "R-EVAL-12",
    "line 1",
)
bad(
    "evaluation.read_qrels",
    "5 fields",
    lambda fx: ev().read_qrels(fx.file("q1 0 d1 1 x\n", "qr5")),
    InputError,
    "R-EVAL-12",
    "line 1",
)
edge(
    "evaluation.read_qrels",
    "3 fields without a header (BEIR)",
    lambda fx: ev().read_qrels(fx.file("q1 d1 1\n", "qr3")),
    lambda got: None if got == {"q1": {"d1": 1}} else 1 / 0,
)
bad(
    "evaluation.read_qrels",
    "a missing file",
    lambda fx: ev().read_qrels(fx.missing("no-qrels")),
    FileNotFoundError,
    None,
    "no-qrels",
)
bad(
    "evaluation.write_run",
    "a NaN score",
    lambda fx: ev().write_run(fx.path("run"), {"q": {"d": float("nan")}}),
    InputError,
    "R-EVAL-1",
    "nan",
)
bad(
    "evaluation.write_run",
    "a tag with a space",
    lambda fx: ev().write_run(fx.path("run"), RUN, tag="a b"),
    InputError,
    "R-EVAL-10",
    "'a b'",
)
bad(
    "evaluation.write_run",
    "an id with a space",
    lambda fx: ev().write_run(fx.path("run"), {"q 1": {"d": 1.0}}),
    InputError,
    "R-EVAL-10",
    "'q 1'",
)
bad(
    "evaluation.write_run",
    "into a missing folder",
    lambda fx: ev().write_run(fx.missing("no-dir") / "run", RUN),
    FileNotFoundError,
    None,
    "no-dir",
)

bad(
    "beir.load_corpus",
    "a missing folder",
    lambda fx: list(beir().load_corpus(fx.missing("no-beir"))),
    FileNotFoundError,
    None,
    "no-beir",
)
bad(
    "beir.load_corpus",
    "a file not JSONL where the folder goes",
    lambda fx: list(beir().load_corpus(fx.file("x", "beir-file"))),
    InputError,
    "R-BEIR-6",
    "beir-file",
    "line 1",
)
for name, corpus, req, named in (
    ("a line not JSON", '{"_id": "a", "text": "x"}\n{oops\n', "R-BEIR-6", ("line 2",)),
    ("a line a list", "[1, 2]\n", "R-BEIR-6", ("line 1",)),
    ("no _id", '{"text": "x"}\n', "R-BEIR-6", ("line 1", "'_id'")),
    ("an _id 1.5", '{"_id": 1.5, "text": "x"}\n', "R-BEIR-3", ("line 1",)),
    ("an empty _id", '{"_id": "", "text": "x"}\n', "R-BEIR-3", ("line 1",)),
    ("a text 5", '{"_id": "a", "text": 5}\n', "R-BEIR-6", ("line 1", "'text'")),
    ("a title None and no text", '{"_id": "a", "title": null}\n', "R-BEIR-6", ("line 1", "'text'")),
    (
        "a lone surrogate escape",
        '{"_id": "a", "text": "x\\udcffy"}\n',
        "R-BEIR-6",
        ("line 1", "lone surrogate"),
    ),
    (
        "a duplicate _id",
        '{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n',
        "R-BEIR-3",
        ("'a'",),
    ),
    ("bytes not UTF-8", b'{"_id": "a", "text": "\xff"}\n', "R-CLI-20", ("line 1",)),
):
    bad(
        "beir.load_corpus",
        name,
        lambda fx, c=corpus: list(beir().load_corpus(fx.beir(corpus=c))),
        InputError,
        req,
        *named,
    )
edge(
    "beir.load_corpus",
    "an empty corpus file",
    lambda fx: list(beir().load_corpus(fx.beir(corpus=""))),
    lambda got: None if got == [] else 1 / 0,
)
bad(
    "beir.load_corpus",
    "a UTF-8 byte order mark",
    lambda fx: list(beir().load_corpus(fx.beir(corpus='\ufeff{"_id": "a", "text": "x"}\n'))),
    InputError,
    "R-BEIR-6",
    "line 1",
    "BOM",
)
edge(
    "beir.load_corpus",
    "blank lines and a paired surrogate escape",
    lambda fx: list(
        beir().load_corpus(fx.beir(corpus='\n{"_id": "a", "text": "\\ud83d\\ude00"}\n\n'))
    ),
    lambda got: None if got == [("a", "\U0001f600")] else 1 / 0,
)
bad(
    "beir.load_queries",
    "a missing file",
    lambda fx: beir().load_queries(fx.missing("no-queries.jsonl")),
    FileNotFoundError,
    None,
    "no-queries",
)
bad(
    "beir.load_queries",
    "a query text [1]",
    lambda fx: beir().load_queries(fx.jsonl([{"_id": "q", "text": [1]}])),
    InputError,
    "R-BEIR-6",
    "line 1",
)
bad(
    "beir.load_qrels",
    "no qrels file of the split",
    lambda fx: beir().load_qrels(fx.beir(), "dev"),
    FileNotFoundError,
    None,
    "dev",
)
bad(
    "beir.load_qrels",
    "a score 'x'",
    lambda fx: beir().load_qrels(fx.beir(qrels="query-id\tcorpus-id\tscore\nq1\td1\tx\n")),
    InputError,
    "R-EVAL-12",
    "line 2",
)
bad(
    "beir.load_qrels",
    "a split with a slash",
    lambda fx: beir().load_qrels(fx.beir(), "../x"),
    InputError,
    "R-BEIR-1",
    "'../x'",
)
bad(
    "beir.load_dataset",
    "no queries.jsonl",
    lambda fx: beir().load_dataset(fx.beir(queries=None)),
    FileNotFoundError,
    None,
    "queries.jsonl",
)
bad(
    "beir.load_dataset",
    "a missing folder",
    lambda fx: beir().load_dataset(fx.missing("no-data")),
    FileNotFoundError,
    None,
    "no-data",
)
bad(
    "beir.read_text_folder",
    "a missing folder",
    lambda fx: list(beir().read_text_folder(fx.missing("no-texts"))),
    FileNotFoundError,
    None,
    "no-texts",
)
bad(
    "beir.read_text_folder",
    "a file not UTF-8",
    lambda fx: list(beir().read_text_folder(fx.folder({"a.txt": b"\xff\xfe x"}))),
    InputError,
    "R-CLI-20",
    "a.txt",
)
bad(
    "beir.read_text_folder",
    "an empty folder",
    lambda fx: list(beir().read_text_folder(fx.folder(name="no-txt"))),
    InputError,
    "R-BEIR-7",
    "no-txt",
)


# ======================================== training data (R-TDATA)
group("training-data")


def data() -> Any:
    from lateint_ref.training import data as d

    return d


TRIPLET = {"query": "q", "positive": "p", "negative": "n"}
for name, rows, req, named in (
    ("a line not JSON", [TRIPLET, "{oops"], "R-TDATA-2", ("line 2",)),
    ("a line a list", ["[1]"], "R-TDATA-2", ("line 1",)),
    ("no query", [{"positive": "p", "negative": "n"}], "R-TDATA-3", ("line 1", "query")),
    ("no positive", [{"query": "q", "negative": "n"}], "R-TDATA-3", ("line 1", "positive")),
    ("no negative", [{"query": "q", "positive": "p"}], "R-TDATA-3", ("line 1", "negative")),
    ("query 5", [TRIPLET | {"query": 5}], "R-TDATA-3", ("line 1", "query")),
    ("query empty", [TRIPLET | {"query": ""}], "R-TDATA-3", ("line 1", "query")),
    ("positive None", [TRIPLET | {"positive": None}], "R-TDATA-3", ("line 1", "positive")),
    (
        "negative a list of ints",
        [TRIPLET | {"negative": [1, 2]}],
        "R-TDATA-3",
        ("line 1", "negative"),
    ),
    ("negative an empty list", [TRIPLET | {"negative": []}], "R-TDATA-3", ("line 1", "negative")),
    (
        "negatives of two lengths",
        [{"query": "q", "positive": "p", "negatives": ["a", "b"]}, TRIPLET],
        "R-TDATA-4",
        ("line 2",),
    ),
    (
        "both negative and negatives",
        [TRIPLET | {"negatives": ["a"]}],
        "R-TDATA-3",
        ("line 1", "both"),
    ),
    (
        "a negatives element 3",
        [{"query": "q", "positive": "p", "negatives": ["a", 3]}],
        "R-TDATA-3",
        ("line 1", "1"),
    ),
    (
        "a lone surrogate",
        ['{"query": "\\udcff", "positive": "p", "negative": "n"}'],
        "R-TDATA-2",
        ("line 1",),
    ),
):
    bad(
        "training.data.read_triplets",
        name,
        lambda fx, r=rows: data().read_triplets(fx.jsonl(r)),
        InputError,
        req,
        *named,
    )
bad(
    "training.data.read_triplets",
    "an empty file",
    lambda fx: data().read_triplets(fx.file("", "empty.jsonl")),
    InputError,
    "R-TDATA-1",
    "empty.jsonl",
)
bad(
    "training.data.read_triplets",
    "not UTF-8",
    lambda fx: data().read_triplets(fx.file(b'{"query": "\xff"}\n', "bin.jsonl")),
    InputError,
    "R-TDATA-2",
    "bin.jsonl",
)
bad(
    "training.data.read_triplets",
    "a missing file",
    lambda fx: data().read_triplets(fx.missing("no.jsonl")),
    FileNotFoundError,
    None,
    "no.jsonl",
)
bad(
    "training.data.read_triplets",
    "a folder",
    lambda fx: data().read_triplets(fx.folder(name="trip-dir")),
    FileNotFoundError,
    "R-TDATA-1",
    "trip-dir",
)
DQ = [{"_id": "q1", "text": "query one"}]
DC = [{"_id": "d1", "text": "doc one"}, {"_id": "d2", "text": "doc two"}]
DL = {"query_id": "q1", "document_ids": ["d1", "d2"], "scores": [1.0, 0.5]}


def distill(fx: Any, lines: list[Any], queries: list[Any] = DQ, corpus: list[Any] = DC) -> Any:
    return data().read_distillation(
        fx.jsonl(lines), queries=fx.jsonl(queries, "q.jsonl"), corpus=fx.jsonl(corpus, "c.jsonl")
    )


for name, lines, req, named in (
    (
        "no query_id",
        [{k: v for k, v in DL.items() if k != "query_id"}],
        "R-TDATA-5",
        ("line 1", "query_id"),
    ),
    ("an unknown query", [DL | {"query_id": "qx"}], "R-TDATA-6", ("'qx'",)),
    ("an unknown document", [DL | {"document_ids": ["d1", "dx"]}], "R-TDATA-6", ("'dx'",)),
    ("scores of another length", [DL | {"scores": [1.0]}], "R-TDATA-5", ("line 1",)),
    ("a NaN score", [DL | {"scores": [1.0, float("nan")]}], "R-TDATA-5", ("line 1",)),
    ("a string score", [DL | {"scores": [1.0, "x"]}], "R-TDATA-5", ("line 1",)),
    ("document_ids a string", [DL | {"document_ids": "d1"}], "R-TDATA-5", ("line 1",)),
    ("document_ids empty", [DL | {"document_ids": [], "scores": []}], "R-TDATA-5", ("line 1",)),
    (
        "documents of two counts",
        [DL, DL | {"document_ids": ["d1"], "scores": [1.0]}],
        "R-TDATA-5",
        ("line 2",),
    ),
):
    bad(
        "training.data.read_distillation",
        name,
        lambda fx, lines=lines: distill(fx, lines),
        InputError,
        req,
        *named,
    )
bad(
    "training.data.read_distillation",
    "a query without text",
    lambda fx: distill(fx, [DL], [{"_id": "q1"}]),
    InputError,
    "R-BEIR-6",
    "q.jsonl",
)
bad(
    "training.data.read_distillation",
    "a missing corpus",
    lambda fx: data().read_distillation(
        fx.jsonl([DL]), queries=fx.jsonl(DQ), corpus=fx.missing("no-corpus.jsonl")
    ),
    FileNotFoundError,
    None,
    "no-corpus",
)
bad(
    "training.data.read_beir_pairs",
    "no train split",
    lambda fx: data().read_beir_pairs(fx.beir(train=None)),
    FileNotFoundError,
    None,
    "train",
)
bad(
    "training.data.read_beir_pairs",
    "a judged document not in the corpus",
    lambda fx: data().read_beir_pairs(fx.beir(train="query-id\tcorpus-id\tscore\nq1\tdzz\t1\n")),
    InputError,
    "R-TDATA-7",
    "dzz",
)
bad(
    "training.data.read_beir_pairs",
    "no positive judgment",
    lambda fx: data().read_beir_pairs(fx.beir(train="query-id\tcorpus-id\tscore\nq1\td1\t0\n")),
    InputError,
    "R-TDATA-1",
    "no example",
)


def triplets(fx: Any) -> Any:
    return data().read_triplets(fx.jsonl([TRIPLET, TRIPLET | {"query": "q2"}]))


for name, kw, named in (
    ("batch_size=0", {"batch_size": 0}, "0"),
    ("batch_size=1.5", {"batch_size": 1.5}, "1.5"),
    ("seed=-1", {"seed": -1}, "-1"),
    ("epoch=-1", {"epoch": -1}, "-1"),
    ("drop_last='no'", {"drop_last": "no"}, "'no'"),
):
    bad(
        "training.data.batches",
        name,
        lambda fx, kw=kw: data().batches(**({"n": 4, "batch_size": 1, "seed": 0, "epoch": 0} | kw)),
        InputError,
        "R-TDATA-9",
        named,
    )
bad(
    "training.data.batches",
    "n=-1",
    lambda fx: data().batches(-1, 2, 0, 0),
    InputError,
    "R-TDATA-9",
    "-1",
)
edge(
    "training.data.batches",
    "batch_size beyond the examples: one batch",
    lambda fx: data().batches(3, 100, 0, 0),
    lambda got: None if len(got) == 1 and sorted(got[0]) == [0, 1, 2] else 1 / 0,
)
edge(
    "training.data.batches",
    "drop_last with fewer examples than a batch: none",
    lambda fx: data().batches(3, 100, 0, 0, drop_last=True),
    lambda got: None if got == [] else 1 / 0,
)
edge(
    "training.data.read_triplets",
    "an unknown field: ignored",
    lambda fx: len(data().read_triplets(fx.jsonl([TRIPLET | {"score": 1}]))),
    lambda n: None if n == 1 else 1 / 0,
)


# ======================================== the PyLate facade (R-PYAPI)
group("pylate")


def pylate(name: str) -> Any:
    import importlib

    return importlib.import_module(f"lateint_ref.pylate.{name}")


def plaid(fx: Any, **kw: Any) -> Any:
    return pylate("indexes").PLAID(index_folder=str(fx.path("plaid")), index_name="i", **kw)


def pmodel(**kw: Any) -> Any:
    return pylate("models").ColBERT(model_name_or_path=str(TINY_BERT), backend="numpy", **kw)


E3 = [f32(3, DIM, seed=7), f32(4, DIM, seed=8)]
bad(
    "pylate.models.ColBERT",
    "a Hub name that is not a folder",
    lambda fx: pylate("models").ColBERT(model_name_or_path="org/no-such-model", backend="numpy"),
    FileNotFoundError,
    None,
    "org/no-such-model",
)
bad(
    "pylate.models.ColBERT",
    "query_length 1",
    lambda fx: pmodel(query_length=1),
    InputError,
    "R-ENC-10",
    "1",
)
bad(
    "pylate.models.ColBERT.encode",
    "padding=True",
    lambda fx: pmodel().encode(["a"], padding=True),
    InputError,
    "R-PYAPI-3",
    "padding",
)
bad(
    "pylate.models.ColBERT.encode",
    "a None sentence",
    lambda fx: pmodel().encode(["a", None]),
    InputError,
    "R-ENC-10",
    "NoneType",
)
bad(
    "pylate.models.ColBERT.encode",
    "batch_size 0",
    lambda fx: pmodel().encode(["a"], batch_size=0),
    InputError,
    "R-ENC-10",
    "0",
)
bad(
    "pylate.models.ColBERT.encode",
    "a lone surrogate",
    lambda fx: pmodel().encode(["\udcff"]),
    InputError,
    "R-ENC-10",
    "text 0",
)
bad("pylate.indexes.PLAID", "nbits 3", lambda fx: plaid(fx, nbits=3), InputError, "R-QUANT-1", "3")
bad(
    "pylate.indexes.PLAID",
    "an unknown argument",
    lambda fx: plaid(fx, colour=1),
    InputError,
    "R-PYAPI-5",
    "colour",
)
bad(
    "pylate.indexes.PLAID",
    "index_name '../x'",
    lambda fx: pylate("indexes").PLAID(index_folder=str(fx.path("plaid")), index_name="../x"),
    InputError,
    "R-PYAPI-5",
    "'../x'",
)
bad(
    "pylate.indexes.PLAID",
    "n_ivf_probe 0",
    lambda fx: plaid(fx, n_ivf_probe=0),
    InputError,
    "R-ISEARCH-3",
    "0",
)
bad(
    "pylate.indexes.PLAID.add_documents",
    "2 ids for 1 matrix",
    lambda fx: plaid(fx).add_documents(documents_ids=["a", "b"], documents_embeddings=[E3[0]]),
    InputError,
    "R-PYAPI-6",
    "2",
)
edge(
    "pylate.indexes.PLAID.add_documents",
    "float64 embeddings: read as float32, as PyLate reads them",
    lambda fx: len(
        plaid(fx).add_documents(
            documents_ids=["a", "b"], documents_embeddings=[e.astype(np.float64) for e in E3]
        )
    ),
    lambda n: None if n == 2 else 1 / 0,
)
bad(
    "pylate.indexes.PLAID.add_documents",
    "int embeddings",
    lambda fx: plaid(fx).add_documents(
        documents_ids=["a"], documents_embeddings=[np.ones((2, DIM), np.int32)]
    ),
    InputError,
    "R-PYAPI-6",
    "int32",
)
bad(
    "pylate.indexes.PLAID.add_documents",
    "NaN",
    lambda fx: plaid(fx).add_documents(
        documents_ids=["a"], documents_embeddings=[with_value(E3[0], (0, 0), np.nan)]
    ),
    InputError,
    "R-MAXSIM-9",
)
bad(
    "pylate.indexes.PLAID.add_documents",
    "an id added twice",
    lambda fx: (
        plaid(fx)
        .add_documents(documents_ids=["a"], documents_embeddings=[E3[0]])
        .add_documents(documents_ids=["a"], documents_embeddings=[E3[1]])
    ),
    InputError,
    "R-INDEX-5",
    "a",
)
edge(
    "pylate.indexes.PLAID.remove_documents",
    "an unknown id: skipped, as PyLate skips it",
    lambda fx: len(
        plaid(fx)
        .add_documents(documents_ids=["a", "b"], documents_embeddings=E3)
        .remove_documents(["zz"])
        .index.live_ids
    ),
    lambda n: None if n == 2 else 1 / 0,
)

bad(
    "pylate.indexes.PLAID.get_documents_embeddings",
    "an unknown id",
    lambda fx: (
        plaid(fx)
        .add_documents(documents_ids=["a"], documents_embeddings=[E3[0]])
        .get_documents_embeddings([["zz"]])
    ),
    InputError,
    "R-PYAPI-12",
    "zz",
)


def retrieved(fx: Any, q: Any, **kw: Any) -> Any:
    index = plaid(fx).add_documents(documents_ids=["a", "b"], documents_embeddings=E3)
    return pylate("retrieve").ColBERT(index=index).retrieve(q, **kw)


bad(
    "pylate.retrieve.ColBERT.retrieve",
    "k=0",
    lambda fx: retrieved(fx, [Q], k=0),
    InputError,
    "R-SEARCH-2",
    "0",
)
bad(
    "pylate.retrieve.ColBERT.retrieve",
    "query dim 4",
    lambda fx: retrieved(fx, [Q[:, :4]]),
    InputError,
    "R-MAXSIM-7",
    "4",
)
edge(
    "pylate.retrieve.ColBERT.retrieve",
    "k beyond the collection",
    lambda fx: retrieved(fx, [Q], k=100),
    lambda got: None if sorted(r["id"] for r in got[0]) == ["a", "b"] else 1 / 0,
)
bad(
    "pylate.rank.rerank",
    "ids and embeddings of different counts",
    lambda fx: pylate("rank").rerank([["a", "b"]], [Q], [[E3[0]]]),
    InputError,
    "R-PYAPI-9",
)
bad(
    "pylate.rank.rerank",
    "ids a string",
    lambda fx: pylate("rank").rerank("ab", [Q], [E3]),
    InputError,
    "R-PYAPI-9",
    "'ab'",
)
bad(
    "pylate.rank.rerank",
    "inf in a candidate",
    lambda fx: pylate("rank").rerank(
        [["a", "b"]], [Q], [[E3[0], with_value(E3[1], (1, 1), np.inf)]]
    ),
    InputError,
    "R-MAXSIM-9",
)
edge(
    "pylate.rank.rerank",
    "no candidate",
    lambda fx: pylate("rank").rerank([[]], [Q], [[]]),
    lambda got: None if got == [[]] else 1 / 0,
)


# ======================================== training (R-TRAIN, R-FIT, R-MINE)
group("training")


def training() -> Any:
    from lateint_ref import training as t

    return t


def colbert(fx: Any) -> Any:
    if not hasattr(fx, "_colbert"):
        fx._colbert = training().ColBERT.from_pretrained(TINY_BERT)
    return fx._colbert


bad(
    "training.ColBERT.from_pretrained",
    "a truncated safetensors",
    lambda fx: training().ColBERT.from_pretrained(
        fx.model_copy(edit=truncate("model.safetensors", 0.5))
    ),
    WeightsError,
    "R-ENC-3",
    "model.safetensors",
)
bad(
    "training.ColBERT.from_pretrained",
    "dropout 1.5",
    lambda fx: training().ColBERT.from_pretrained(TINY_BERT, dropout=1.5),
    InputError,
    "R-TRAIN-11",
    "1.5",
)
bad(
    "training.ColBERT.from_pretrained",
    "document_length 4096",
    lambda fx: training().ColBERT.from_pretrained(TINY_BERT, document_length=4096),
    InputError,
    "R-ENC-10",
    "4096",
)
bad(
    "training.ColBERT.from_backbone",
    "embedding_size 0",
    lambda fx: training().ColBERT.from_backbone(TINY_BERT, embedding_size=0),
    InputError,
    "R-ENC-10",
    "0",
)
bad(
    "training.ColBERT.from_backbone",
    "a missing folder",
    lambda fx: training().ColBERT.from_backbone(fx.missing("no-bb")),
    FileNotFoundError,
    None,
    "no-bb",
)
bad(
    "training.Contrastive",
    "temperature 0",
    lambda fx: training().Contrastive(temperature=0),
    InputError,
    "R-TRAIN-8",
    "0",
)
bad(
    "training.Contrastive",
    "temperature nan",
    lambda fx: training().Contrastive(temperature=float("nan")),
    InputError,
    "R-TRAIN-8",
    "nan",
)
bad(
    "training.Contrastive",
    "documents not rectangular",
    lambda fx: training().Contrastive()(
        colbert(fx), queries=["q1", "q2"], documents=[["a", "b"], ["c"]]
    ),
    InputError,
    "R-TRAIN-8",
)
bad(
    "training.Contrastive",
    "a None query",
    lambda fx: training().Contrastive()(
        colbert(fx), queries=["q1", None], documents=[["a"], ["c"]]
    ),
    InputError,
    "R-TRAIN-8",
)
bad(
    "training.Contrastive",
    "a lone surrogate",
    lambda fx: training().Contrastive()(
        colbert(fx), queries=["q1", "\udcff"], documents=[["a"], ["c"]]
    ),
    InputError,
    "R-TRAIN-8",
    "[1]",
)
bad(
    "training.CachedContrastive",
    "mini_batch_size 0",
    lambda fx: training().CachedContrastive(mini_batch_size=0),
    InputError,
    "R-TRAIN-8",
    "0",
)
bad(
    "training.Distillation",
    "scores of another shape",
    lambda fx: training().Distillation()(
        colbert(fx), queries=["q"], documents=[["a", "b"]], teacher_scores=[[1.0]]
    ),
    InputError,
    "R-TRAIN-8",
)
bad(
    "training.Distillation",
    "a NaN score",
    lambda fx: training().Distillation()(
        colbert(fx), queries=["q"], documents=[["a", "b"]], teacher_scores=[[1.0, float("nan")]]
    ),
    InputError,
    "R-TRAIN-8",
)


def fit(fx: Any, **kw: Any) -> Any:
    t = training()
    data_ = t.data.read_triplets(fx.jsonl([TRIPLET, TRIPLET | {"query": "q2"}]))
    args = {"epochs": 1, "batch_size": 2, "output_dir": fx.path("fit")} | kw
    return t.fit(colbert(fx), t.Contrastive(), data_, **args)


for name, kw, req, named in (
    ("epochs 0", {"epochs": 0}, "R-FIT-1", "0"),
    ("batch_size 0", {"batch_size": 0}, "R-FIT-1", "0"),
    ("lr -1", {"lr": -1}, "R-FIT-1", "-1"),
    ("lr nan", {"lr": float("nan")}, "R-FIT-1", "nan"),
    ("warmup -1", {"warmup": -1}, "R-FIT-2", "-1"),
    ("precision 'float8'", {"precision": "float8"}, "R-FIT-1", "'float8'"),
    ("checkpoint_every 0", {"checkpoint_every": 0}, "R-FIT-1", "0"),
):
    bad("training.fit", name, lambda fx, kw=kw: fit(fx, **kw), InputError, req, named)
bad(
    "training.fit",
    "output_dir a file",
    lambda fx: fit(fx, output_dir=fx.file("x", "fit-file")),
    FileExistsError,
    None,
    "fit-file",
)
edge(
    "training.fit",
    "batch_size beyond the examples: one step",
    lambda fx: fit(fx, batch_size=3).steps,
    lambda n: None if n == 1 else 1 / 0,
)
bad(
    "training.mining.mine",
    "a missing dataset",
    lambda fx: training().mining.mine(fx.missing("no-beir"), TINY_BERT, backend="numpy"),
    FileNotFoundError,
    None,
    "no-beir",
)
bad(
    "training.mining.mine",
    "negatives 0",
    lambda fx: training().mining.mine(fx.beir(), TINY_BERT, n_negatives=0, backend="numpy"),
    InputError,
    "R-MINE-1",
    "0",
)


# The stages of a sharded search and the shared codec (spec/distributed.md), on the index group.
group("index")
bad(
    "Index.stage_probe",
    "nprobe=0",
    lambda fx: fx.index().stage_probe(fx.query, nprobe=0, candidates=5),
    InputError,
    "R-ISEARCH-3",
    "0",
)
bad(
    "Index.stage_probe",
    "candidates=0",
    lambda fx: fx.index().stage_probe(fx.query, nprobe=1, candidates=0),
    InputError,
    "R-ISEARCH-3",
    "0",
)
edge(
    "Index.stage_probe",
    "candidates=2**70: every live document",
    lambda fx: fx.index().stage_probe(fx.query, nprobe=1, candidates=2**70),
    lambda got: None if len(got[0]) == 1 and len(got[0][0][0]) <= 5 else 1 / 0,
)
bad(
    "Index.stage_probe",
    "keep_bytes=-1",
    lambda fx: fx.index().stage_probe(fx.query, nprobe=1, candidates=5, keep_bytes=-1),
    InputError,
    "R-DIST-3",
    "-1",
)
edge(
    "Index.stage_probe",
    "keep_bytes=2**70: every query's centroid scores kept",
    lambda fx: fx.index().stage_probe(fx.query, nprobe=1, candidates=5, keep_bytes=2**70),
    lambda got: None if all(s is not None for s in got[1]) else 1 / 0,
)
bad(
    "Index.stage_probe",
    "NaN in a query",
    lambda fx: fx.index().stage_probe(with_value(fx.query, (0, 1), np.nan), nprobe=1, candidates=5),
    InputError,
    "R-MAXSIM-9",
    "component 1",
)
bad(
    "Index.stage_codes",
    "rescore=0",
    lambda fx: fx.index().stage_codes(fx.query, [np.array([1])], 0),
    InputError,
    "R-ISEARCH-3",
    "0",
)
bad(
    "Index.stage_codes",
    "a position beyond the documents",
    lambda fx: fx.index().stage_codes(fx.query, [np.array([99])], 3),
    InputError,
    "R-DIST-3",
    "99",
)
bad(
    "Index.stage_codes",
    "2 position lists for 1 query",
    lambda fx: fx.index().stage_codes(fx.query, [np.array([1]), np.array([2])], 3),
    InputError,
    "R-DIST-3",
    "2 position lists",
)
bad(
    "Index.stage_codes",
    "centroid scores of the wrong length",
    lambda fx: fx.index().stage_codes(
        fx.query, [np.array([1])], 3, scores=[np.zeros(7, np.float32)]
    ),
    InputError,
    "R-DIST-3",
    "7 centroid scores",
)
bad(
    "Index.stage_codes",
    "centroid scores as a list",
    lambda fx: fx.index().stage_codes(fx.query, [np.array([1])], 3, scores=[[0.5]]),
    InputError,
    "R-DIST-3",
    "list",
)
bad(
    "Index.stage_codes",
    "2 score arrays for 1 query",
    lambda fx: fx.index().stage_codes(fx.query, [np.array([1])], 3, scores=[None, None]),
    InputError,
    "R-DIST-3",
    "2 score arrays",
)
bad(
    "Index.stage_rescore",
    "k=0",
    lambda fx: fx.index().stage_rescore(fx.query, None, 0),
    InputError,
    "R-SEARCH-2",
    "0",
)
bad(
    "Index.stage_rescore",
    "a position beyond the documents",
    lambda fx: fx.index().stage_rescore(fx.query, [np.array([99])], 3),
    InputError,
    "R-DIST-3",
    "99",
)
bad(
    "Index.stage_rescore",
    "2 position lists for 1 query",
    lambda fx: fx.index().stage_rescore(fx.query, [np.array([1]), np.array([2])], 3),
    InputError,
    "R-DIST-3",
    "2 position lists",
)
bad(
    "Index.stage_rescore",
    "a negative position",
    lambda fx: fx.index().stage_rescore(fx.query, [np.array([-1])], 3),
    InputError,
    "R-DIST-3",
    "-1",
)
bad(
    "Index.stage_rescore",
    "a position 1.5",
    lambda fx: fx.index().stage_rescore(fx.query, [np.array([1.5])], 3),
    InputError,
    "R-DIST-3",
    "1.5",
)
edge(
    "Index.stage_rescore",
    "k beyond the listed positions: those",
    lambda fx: fx.index().stage_rescore(fx.query, [np.array([1, 3])], 50),
    lambda got: None if sorted(got[0][0].tolist()) == [1, 3] else 1 / 0,
)
bad(
    "Index.codec_sample",
    "n_tokens=0",
    lambda fx: li().Index.codec_sample(0),
    InputError,
    "R-KMEANS-1",
    "0",
)
bad(
    "Index.codec_sample",
    "seed=-1",
    lambda fx: li().Index.codec_sample(10, seed=-1),
    InputError,
    "R-KMEANS-2",
    "-1",
)
bad(
    "Index.codec_sample",
    "n_centroids beyond the tokens",
    lambda fx: li().Index.codec_sample(10, n_centroids=50),
    InputError,
    "R-KMEANS-1",
    "50",
)
bad(
    "Index.fit_codec",
    "rows of rank 1",
    lambda fx: li().Index.fit_codec(fx.path("c.lti"), np.ones(8, np.float32), 10),
    InputError,
    "R-INDEX-20",
    "(8,)",
)
bad(
    "Index.fit_codec",
    "rows with NaN",
    lambda fx: li().Index.fit_codec(
        fx.path("c.lti"), with_value(np.ones((10, 8), np.float32), (3, 3), np.nan), 10
    ),
    InputError,
    "R-MAXSIM-9",
)
bad(
    "Index.fit_codec",
    "nbits=3",
    lambda fx: li().Index.fit_codec(fx.path("c.lti"), np.ones((10, 8), np.float32), 10, nbits=3),
    InputError,
    "R-QUANT-1",
    "3",
)
