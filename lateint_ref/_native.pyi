"""Typed stubs of the private extension ``lateint_ref._native`` (rust/python.rs). Arrays are
C-contiguous; shapes are given as in the Rust doc comments."""

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
Ids = I64 | Sequence[str]
# ``progress(stage, done, total)``, called on the calling thread between steps of the native
# work; an exception it raises (or a signal handler's, e.g. KeyboardInterrupt) stops the build,
# nothing committed, and is raised by build_index / append_index unchanged (R-INDEX-8).
ProgressHook = Callable[[str, int, int], object]

class NotPlain(Exception):
    """A list of documents the core cannot read in place; the caller packs it."""

class DocumentSet:
    """Documents stored once: ``vectors [n_tokens, dim] f32``, ``offsets [n_docs + 1] i64``."""

    def __init__(self, vectors: F32, offsets: I64, storage: str) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def storage(self) -> str: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def offsets(self) -> I64: ...
    def __len__(self) -> int: ...

Docs = DocumentSet | tuple[F32, I64]

def maxsim(
    q_vectors: F32, q_offsets: I64, docs: Docs, threads: int | None = None, isa: str | None = None
) -> F32: ...
def maxsim_pairwise(
    q_vectors: F32, q_offsets: I64, docs: Docs, threads: int | None = None, isa: str | None = None
) -> F32: ...
def search_exact(
    q_vectors: F32,
    q_offsets: I64,
    docs: Docs,
    k: int,
    threads: int | None = None,
    isa: str | None = None,
) -> tuple[F32, I64]: ...
def available_isas() -> list[str]: ...
def has_bf16_dot() -> bool: ...
def small_linear(x: np.ndarray, weight: np.ndarray, isa: str | None = ...) -> np.ndarray: ...
def assign_centroids(
    points: F32,
    centroids: F32,
    version: int,
    n_groups: int | None = None,
    probe: int | None = None,
    threads: int | None = None,
    isa: str | None = None,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32] | None]: ...
def build_index(
    path: str,
    vectors: F32,
    offsets: I64,
    ids: Ids,
    nbits: int,
    seed: int,
    n_centroids: int | None,
    sample: int | None,
    iters: int,
    metadata: str,
    threads: int | None = None,
    progress: ProgressHook | None = None,
) -> None: ...
def append_index(
    path: str,
    vectors: F32,
    offsets: I64,
    ids: Ids,
    threads: int | None = None,
    progress: ProgressHook | None = None,
    upsert: bool = False,
) -> None: ...

class IndexSpill:
    """A streaming build (R-INDEX-17): the writer's lock on ``path`` and its spill file."""

    def __init__(self, path: str) -> None: ...
    def push(self, vectors: F32, offsets: I64) -> None: ...
    @property
    def n_docs(self) -> int: ...
    @property
    def n_tokens(self) -> int: ...
    def build(
        self,
        ids: Ids,
        nbits: int,
        seed: int,
        n_centroids: int | None,
        sample: int | None,
        iters: int,
        metadata: str,
        segment_tokens: int,
        threads: int | None = None,
        progress: ProgressHook | None = None,
    ) -> None: ...
    def close(self) -> None: ...

def delete_index(path: str, ids: Ids) -> int: ...
def compact_index(
    path: str, threads: int | None = None, progress: ProgressHook | None = None
) -> int: ...
def refit_index(
    path: str,
    vectors: F32,
    offsets: I64,
    nbits: int | None = None,
    seed: int | None = None,
    n_centroids: int | None = None,
    sample: int | None = None,
    iters: int | None = None,
    threads: int | None = None,
    progress: ProgressHook | None = None,
) -> None: ...
def build_index_with_codec(
    path: str,
    vectors: F32,
    offsets: I64,
    ids: Ids,
    codec: str,
    threads: int | None = None,
    progress: ProgressHook | None = None,
) -> None: ...
def codec_sample(
    n_tokens: int, n_centroids: int | None, sample: int | None, seed: int
) -> tuple[int, I64]: ...
def train_codec(
    path: str,
    rows: F32,
    n_tokens: int,
    nbits: int,
    seed: int,
    n_centroids: int | None,
    sample: int | None,
    iters: int,
    metadata: str,
    threads: int | None = None,
    progress: ProgressHook | None = None,
) -> None: ...
def is_uncommitted_dir(path: str) -> bool: ...
def committed_generation(path: str) -> int: ...

class Index:
    """An opened, validated index directory."""

    def __init__(self, path: str) -> None: ...
    def reopen(self) -> Index: ...
    @property
    def dim(self) -> int: ...
    @property
    def nbits(self) -> int: ...
    @property
    def n_centroids(self) -> int: ...
    @property
    def n_tokens(self) -> int: ...
    @property
    def generation(self) -> int: ...
    @property
    def metadata(self) -> str: ...
    @property
    def training(self) -> tuple[int, int, int]: ...
    def __len__(self) -> int: ...
    @property
    def n_live(self) -> int: ...
    def tombstones(self) -> I64: ...
    def centroids(self) -> F32: ...
    def cutoffs(self) -> F32: ...
    def weights(self) -> F32: ...
    def table(self) -> F32: ...
    def format_version(self) -> int: ...
    def bounds(self, segment: int) -> F32: ...
    def ids(self) -> I64 | list[str]: ...
    def files(self) -> list[tuple[str, int]]: ...
    def segments(self) -> list[tuple[str, int]]: ...
    @property
    def far_threshold(self) -> float | None: ...
    def segment_far(self) -> list[tuple[str, int, int, int | None]]: ...
    def search(
        self,
        q_vectors: F32,
        q_offsets: I64,
        k: int,
        nprobe: int | None = None,
        candidates: int | None = None,
        rescore: int | None = None,
        exhaustive: bool = False,
        threads: int | None = None,
        allow: I64 | None = None,
    ) -> tuple[I64, F32, I64]: ...
    def search_defaults(self, k: int) -> tuple[int, int, int]: ...
    def shard_probe(
        self,
        q_vectors: F32,
        q_offsets: I64,
        nprobe: int,
        candidates: int,
        keep_bytes: int,
        threads: int | None = None,
    ) -> tuple[F32, I64, I64, list[F32 | None]]: ...
    def shard_codes(
        self,
        q_vectors: F32,
        q_offsets: I64,
        positions: I64,
        pos_offsets: I64,
        scores: list[F32 | None],
        rescore: int,
        threads: int | None = None,
    ) -> tuple[I64, F32, I64]: ...
    def shard_rescore(
        self,
        q_vectors: F32,
        q_offsets: I64,
        positions: I64 | None,
        pos_offsets: I64 | None,
        k: int,
        threads: int | None = None,
    ) -> tuple[I64, F32, I64]: ...
    def decode(self, positions: I64) -> tuple[F32, I64]: ...
    def codes(self, position: int) -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint8]]: ...
