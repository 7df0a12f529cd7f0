"""The retriever's texts store (spec/retriever.md R-RET-1): one self-validating file per committed
generation of the index, ``texts-<g>.jsonl``, written before that generation is committed, and the
retriever's writer lock.

A file is a header line, then one JSON object ``{"id", "text"}`` per document of its generation,
in index order::

    {"bytes": 118, "count": 2, "format": "lateint-texts/1", "generation": 3, "sha256": "9f2c..."}
    {"id": "d20", "text": "wind tunnel"}
    {"id": "d21", "text": "heart disease"}

``bytes`` and ``sha256`` are the size and SHA-256 of everything after the header line. Files of a
generation the manifest does not name (written before a commit that did not happen) and temporary
files are ignored by readers and removed by the next writer.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from lateint_ref import _checks, _files
from lateint_ref.errors import IndexFormatError, IndexLockedError, InputError
from lateint_ref.index import Index
from lateint_ref.index.lock import retrying

FORMAT = "lateint-texts/1"
NAME = "texts-{generation}.jsonl"
MAX_HEADER = 1024  # bytes of a header line, newline included: larger is damage, not a header
_HEADER_KEYS = {"bytes", "count", "format", "generation", "sha256"}
_COMMITTED = re.compile(r"texts-([0-9]+)\.jsonl")
# Temporary files of this store: ``_files.write_atomic``'s, and the fixed name of older writers.
_TEMPORARY = re.compile(r"\.texts-[0-9]+\.jsonl\..*\.tmp|texts-[0-9]+\.jsonl\.tmp")

DocId = int | str


def file_name(generation: int) -> str:
    """``texts-<generation>.jsonl``."""
    return NAME.format(generation=generation)


def staged(path: Path) -> Path:
    """Where generation 1's texts wait, beside the index folder ``path``, while ``Index.create``
    (which wants an empty folder) commits it: ``<path>.texts-1.jsonl``."""
    folder = path.absolute()
    return folder.with_name(folder.name + ".texts-1.jsonl")


def encode(generation: int, ids: Sequence[DocId], texts: Sequence[str]) -> bytes:
    """The bytes of the texts file of ``generation``: header line, then one line per document."""
    lines = [
        json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
        for i, t in zip(ids, texts, strict=True)
    ]
    try:
        body = "".join(lines).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"R-RET-1: a text is not valid Unicode: {exc}") from exc
    return _header(generation, len(lines), body) + body


def _header(generation: int, count: int, body: bytes) -> bytes:
    fields = {
        "bytes": len(body),
        "count": count,
        "format": FORMAT,
        "generation": generation,
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    return (json.dumps(fields, sort_keys=True) + "\n").encode("ascii")


def write(path: Path, generation: int, ids: Sequence[DocId], texts: Sequence[str]) -> None:
    """Writes, atomically and durably (``_files``), the texts of ``generation`` into the index
    folder ``path``, before that generation is committed; replaces an uncommitted file."""
    _files.write_atomic(path / file_name(generation), encode(generation, ids, texts))


def stage(path: Path, ids: Sequence[DocId], texts: Sequence[str]) -> None:
    """Writes generation 1's texts beside the index folder, to be moved in once it is committed."""
    _files.write_atomic(staged(path), encode(1, ids, texts))


def commit_staged(path: Path) -> None:
    """Moves the staged texts of generation 1 into the index folder (generation 1 is committed)."""
    _files.replace_durably(staged(path), path / file_name(1))


def unstage(path: Path) -> None:
    """Removes staged texts whose generation 1 was never committed."""
    staged(path).unlink(missing_ok=True)


def recover(path: Path, generation: int) -> None:
    """Under the writer lock, before writing: moves staged texts of a committed generation 1 into
    place, and removes what no commit names: texts files of generations after ``generation``,
    temporary files, and staged texts already moved."""
    first = path / file_name(1)
    if staged(path).exists():
        if first.exists():
            unstage(path)
        else:  # stopped between the first commit and the move
            commit_staged(path)
    for f in path.iterdir():
        found = _COMMITTED.fullmatch(f.name)
        if (found is not None and int(found.group(1)) > generation) or _TEMPORARY.fullmatch(f.name):
            f.unlink(missing_ok=True)
    clear_staging_temporaries(path)


def clear_staging_temporaries(path: Path) -> None:
    """Removes the temporary files ``stage`` may have left beside the index folder."""
    prefix = f".{staged(path).name}."
    if path.parent.is_dir():
        for f in path.parent.iterdir():
            if f.name.startswith(prefix) and f.name.endswith(".tmp"):
                f.unlink(missing_ok=True)


_SEGMENT = re.compile(r"segment-([0-9]+)\.lti")


def segment_generation(name: str) -> int:
    """The generation that committed the segment file ``name`` (``segment-<g>.lti``): its texts
    are ``texts-<g>.jsonl``."""
    found = _SEGMENT.fullmatch(name)
    if found is None:
        raise IndexFormatError(f"R-RET-1: segment {name!r} is not named segment-<generation>.lti")
    return int(found.group(1))


def load(path: Path, index: Index) -> dict[DocId, str]:
    """The texts of the live documents of ``index`` (at ``path``), by id, after checking that the
    file of each segment's generation is present and intact and that its ids are those of the
    segment's documents, in order: together, ``index.ids`` (R-RET-1). Any fault raises
    ``IndexFormatError`` naming the file. Deleted documents' texts are not returned
    (R-INDEX-10)."""
    want = index.ids
    deleted = set(index.deleted)
    out: dict[DocId, str] = {}
    start = 0
    f = path
    for name, n_docs in index.segments():
        generation = segment_generation(name)
        f, ids, texts = _read_committed(path, generation)
        end = start + n_docs
        if ids != want[start:end]:
            n = next(
                (j for j, (a, b) in enumerate(zip(ids, want[start:end], strict=False)) if a != b),
                min(len(ids), len(want) - start),
            )
            held = repr(want[start + n]) if start + n < len(want) else "no document"
            got = repr(ids[n]) if n < len(ids) else "nothing"
            raise IndexFormatError(
                f"R-RET-1: {f}: the texts of generation {generation} do not hold the ids of its "
                f"documents: text {n} has id {got}, the index has {held} at position {start + n}"
            )
        out.update(
            (i, t)
            for p, (i, t) in enumerate(zip(ids, texts, strict=True), start)
            if p not in deleted
        )
        start = end
    if start != len(want):
        raise IndexFormatError(
            f"R-RET-1: {f}: the texts files hold {start} documents, the index {len(want)}"
        )
    return out


def _read_committed(path: Path, generation: int) -> tuple[Path, list[DocId], list[str]]:
    """The file of a committed generation, read and checked. Generation 1's texts may still be
    staged beside the folder when the writer stopped right after the first commit."""
    candidates = [path / file_name(generation)]
    if generation == 1:  # a writer may move the staged file in while this looks for it
        candidates += [staged(path), path / file_name(generation)]
    for f in candidates:
        try:
            with open(f, "rb") as fh:
                return (f, *_read(fh, f, generation))
        except FileNotFoundError:
            continue
    raise IndexFormatError(
        f"R-RET-1: {candidates[0]}: missing: the texts of committed generation {generation}"
    )


def _read(fh: BinaryIO, f: Path, generation: int) -> tuple[list[DocId], list[str]]:
    """The ids and texts of an open texts file, checked against its header."""

    def bad(what: str) -> IndexFormatError:
        return IndexFormatError(f"R-RET-1: {f}: {what}")

    head = fh.readline(MAX_HEADER)
    if not head.endswith(b"\n"):
        raise bad(f"no {FORMAT} header line (truncated or not a texts file)")
    try:
        header = json.loads(head)
    except ValueError as exc:
        raise bad(f"the header line is not JSON: {exc}") from None
    if isinstance(header, dict) and set(header) == {"id", "text"}:
        # A file of the first retriever version: no header, no checksum; checked line by line
        # and by its ids (``load``) only.
        fh.seek(0)
        return _items(fh.read().split(b"\n"), 1, bad)
    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        raise bad(f"not a {FORMAT} file: its first line is not the header")
    if header["format"] != FORMAT:
        raise bad(f"format {header['format']!r}, expected {FORMAT!r}")
    if header["generation"] != generation or not _checks.is_int(header["generation"]):
        raise bad(f"holds generation {header['generation']!r}, expected {generation}")
    size, count, digest = header["bytes"], header["count"], header["sha256"]
    if not _checks.is_int(size) or not _checks.is_int(count) or count < 1:
        raise bad(f"header sizes bytes={size!r}, count={count!r} are not valid")
    on_disk = os.fstat(fh.fileno()).st_size - len(head)
    if on_disk != size:  # checked before the body is read
        raise bad(f"{on_disk} bytes after the header, the header says {size} (truncated?)")
    body = fh.read(size + 1)
    if len(body) != size:
        raise bad(f"{len(body)} bytes after the header, the header says {size}")
    if hashlib.sha256(body).hexdigest() != digest:
        raise bad("SHA-256 of the texts does not match the header (corrupted)")
    if _header(generation, count, body) != head:
        raise bad("the header line is not in its canonical form")
    lines = body.split(b"\n")
    if lines[-1] != b"" or len(lines) - 1 != count:
        raise bad(f"{len(lines) - 1} lines of texts, the header says {count}")
    return _items(lines, 2, bad)


def _items(
    lines: list[bytes], first: int, bad: Callable[[str], IndexFormatError]
) -> tuple[list[DocId], list[str]]:
    """The ids and texts of the lines of a file (``first``: the number of the first line); the
    last line must be empty (every line ends with a newline)."""
    if lines[-1] != b"" or len(lines) < 2:
        raise bad("no texts, or the last line does not end with a newline (truncated?)")
    ids: list[DocId] = []
    texts: list[str] = []
    for n, line in enumerate(lines[:-1], start=first):
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise bad(f"line {n} is not JSON: {exc}") from None
        if not isinstance(item, dict) or set(item) != {"id", "text"}:
            raise bad(f"line {n} is not an object with keys id and text")
        i, t = item["id"], item["text"]
        if not (isinstance(i, str) or _checks.is_int(i)) or not isinstance(t, str):
            raise bad(f"line {n}: id {i!r} or text of type {type(t).__name__} not valid")
        ids.append(i)
        texts.append(t)
    return ids, texts


@contextmanager
def writer_lock(path: Path, lock_timeout: float | None = 0) -> Iterator[None]:
    """Holds the retriever's writer lock on the index folder ``path`` (R-RET-1, R-INDEX-14): an
    advisory ``flock`` on the folder itself, so that it can be taken before ``Index.create``
    (which wants an empty folder) and never conflicts with the index writer's own ``LOCK`` file;
    the operating system releases it when its process ends. Creates the folder when missing, and
    removes it again when it is still empty on leaving. A second writer gets ``IndexLockedError``
    at once, or after waiting up to ``lock_timeout`` seconds (None: as long as it takes)."""
    created = not path.exists()
    fd = retrying(lambda: _lock_folder(path), lock_timeout)
    try:
        yield
    finally:
        try:
            if created and not any(path.iterdir()):
                path.rmdir()  # still holding the lock: nobody else is writing here
        finally:
            os.close(fd)


def _lock_folder(path: Path) -> int:
    """The descriptor of ``path`` (created when missing), locked; ``IndexLockedError`` when
    another writer holds it (R-INDEX-14)."""
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        mine, now = os.fstat(fd), os.stat(path)
        held = (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)
    except (BlockingIOError, FileNotFoundError):
        held = False  # locked by another writer, or the folder was removed meanwhile
    except BaseException:
        os.close(fd)
        raise
    if not held:
        os.close(fd)
        raise IndexLockedError(
            f"R-INDEX-14: {path} is being written by another writer (it holds the retriever's "
            "lock on the folder); one writer at a time"
        )
    return fd
