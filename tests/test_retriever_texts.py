"""The retriever's texts store: committed with the index, validated on open, one writer at a time
(spec/retriever.md R-RET-1, R-RET-3)."""

from __future__ import annotations

import fcntl
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import lateint_ref as li
from lateint_ref import IndexFormatError, IndexLockedError
from lateint_ref.index import writer
from lateint_ref.retrieval.retriever import Retriever

MODEL = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder" / "tiny-bert"
WORDS = ["heart", "disease", "genome", "wind", "tunnel", "protein", "cell", "cancer"]


def corpus(n: int, prefix: str = "d") -> list[tuple[str, str]]:
    """``n`` documents; ``corpus(m)`` starts with ``corpus(n)`` for m > n."""
    rng = np.random.default_rng(ord(prefix))
    words = [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 6)))) for _ in range(n)]
    return [(f"{prefix}{i}", w) for i, w in enumerate(words)]


def build(path: Path, docs, **kw) -> Retriever:
    # a codec sample of 10, then chunks of 10: one texts file per 10 documents
    kw = {"commit_every": 10, "sample_documents": 10, "backend": "numpy", "seed": 0} | kw
    kw = {"progress": False} | kw
    return Retriever.build(path, MODEL, docs, **kw)


def reopen(path: Path) -> Retriever:
    return Retriever.open(path, backend="numpy")


def files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.iterdir()) if f.name != "LOCK"}


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """25 documents in three committed generations."""
    build(tmp_path / "i", corpus(25))
    return tmp_path / "i"


def assert_refused(path: Path, name: str) -> None:
    """Opening, and resuming, raise IndexFormatError naming the damaged file."""
    with pytest.raises(IndexFormatError, match=rf"R-RET-1: .*{re.escape(name)}"):
        reopen(path)
    with pytest.raises(IndexFormatError, match=rf"R-RET-1: .*{re.escape(name)}"):
        build(path, corpus(30))


def _cut(data: bytes, where: str) -> bytes:
    last = data.rstrip(b"\n").rfind(b"\n") + 1  # where the last line starts
    return {
        "empty": b"",
        "in the first line": data[:20],
        "after the first line": data[: data.find(b"\n") + 1],
        "inside the last line": data[: last + 5],
        "without the last line": data[:last],
        "without the last newline": data[:-1],
    }[where]


@pytest.mark.spec("R-RET-1")
@pytest.mark.parametrize(
    "where",
    [
        "empty",
        "in the first line",
        "after the first line",
        "inside the last line",
        "without the last line",
        "without the last newline",
    ],
)
def test_truncated_texts_file_is_refused(built: Path, where: str) -> None:
    """R-RET-1: a texts file cut anywhere (empty, inside its first line, inside a line, one line
    short) raises IndexFormatError naming it, never a JSON or key error."""
    f = built / "texts-2.jsonl"
    f.write_bytes(_cut(f.read_bytes(), where))
    assert_refused(built, "texts-2.jsonl")


@pytest.mark.spec("R-RET-1")
def test_every_flipped_byte_is_refused(built: Path) -> None:
    """R-RET-1: each texts file is self-validating: flipping any one byte of it raises
    IndexFormatError naming it."""
    f = built / "texts-3.jsonl"
    data = f.read_bytes()
    for pos in range(len(data)):
        bad = bytearray(data)
        bad[pos] ^= 0x01 if pos % 2 else 0xFF
        f.write_bytes(bytes(bad))
        with pytest.raises(IndexFormatError, match=r"R-RET-1: .*texts-3\.jsonl"):
            reopen(built)
    f.write_bytes(data)
    assert reopen(built).text("d24") == corpus(25)[24][1]


@pytest.mark.spec("R-RET-1")
@pytest.mark.parametrize("generation", [1, 2, 3])
def test_missing_texts_file_is_refused(built: Path, generation: int) -> None:
    """R-RET-1: every committed generation has its texts file; a missing one is named."""
    (built / f"texts-{generation}.jsonl").unlink()
    assert_refused(built, f"texts-{generation}.jsonl")


@pytest.mark.spec("R-RET-1")
def test_texts_of_other_ids_are_refused(tmp_path: Path, built: Path) -> None:
    """R-RET-1: a well-formed texts file whose ids are not those of its generation's documents
    (here, generation 2 of another index, or generation 3's file in place of 2) is refused."""
    build(tmp_path / "other", corpus(25, prefix="e"))
    before = (built / "texts-2.jsonl").read_bytes()
    shutil.copyfile(tmp_path / "other" / "texts-2.jsonl", built / "texts-2.jsonl")
    assert_refused(built, "texts-2.jsonl")
    (built / "texts-2.jsonl").write_bytes(before)
    shutil.copyfile(built / "texts-3.jsonl", built / "texts-2.jsonl")
    assert_refused(built, "texts-2.jsonl")


@pytest.mark.spec("R-RET-1")
def test_uncommitted_and_temporary_files_are_ignored_then_cleared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-RET-1: a texts file written before a commit that did not happen, and stray temporary
    files, are ignored by open and removed by the next build, which ends with the files of an
    uninterrupted run."""
    docs = corpus(30)
    real_add = li.Index.add
    calls = []

    def failing_add(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # after texts-3 is written, before generation 3 commits
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(li.Index, "add", failing_add)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path / "a", docs)
    monkeypatch.undo()
    a = tmp_path / "a"
    assert li.Index.open(a).generation == 2
    assert (a / "texts-3.jsonl").exists()
    (a / "texts-4.jsonl").write_text("garbage\n")
    (a / "texts-2.jsonl.tmp").write_text("garbage\n")
    (a / ".texts-3.jsonl.x1y2.tmp").write_text("garbage\n")
    r = reopen(a)
    text = dict(docs)
    assert len(r.index.ids) == 20
    assert all(r.text(i) == text[i] for i in r.index.ids)
    assert [r.text(i) for i in text if i not in r.index.ids] == [None] * 10
    build(a, docs)
    build(tmp_path / "c", docs)
    assert files(a) == files(tmp_path / "c")


@pytest.mark.spec("R-RET-1", "R-RET-3")
def test_interrupted_right_after_the_first_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-RET-1, R-RET-3: the first chunk's texts wait beside the index while it is created; a
    run stopped between that commit and their move keeps them readable, and the next build
    moves them into place and ends with the files of an uninterrupted run."""
    docs = corpus(15)
    real_create = writer.create

    def create_then_stop(*args, **kwargs):
        real_create(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "create", create_then_stop)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path / "a", docs)
    monkeypatch.undo()
    assert li.Index.open(tmp_path / "a").generation == 1
    r = reopen(tmp_path / "a")
    assert len(r.index.ids) == 10
    assert all(r.text(i) == dict(docs)[i] for i in r.index.ids)
    build(tmp_path / "a", docs)
    build(tmp_path / "b", docs)
    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


@pytest.mark.spec("R-INDEX-14", "R-RET-1")
def test_a_second_writer_is_refused_and_loses_nothing(built: Path) -> None:
    """R-RET-1: while a build holds the retriever's writer lock, another build of the same index
    raises IndexLockedError at once (R-INDEX-14); the texts already committed are never
    overwritten."""
    nested: list = []
    before = reopen(built).index.ids

    def second_writer(ids, vectors) -> None:
        if not nested:
            nested.append(1)
            build(built, corpus(25) + corpus(3, prefix="e"))

    with pytest.raises(IndexLockedError, match=r"R-INDEX-14: .*another writer"):
        build(built, corpus(40), on_chunk=second_writer)
    r = reopen(built)
    assert sorted(before) == sorted(i for i, _ in corpus(25))
    assert r.index.ids == before
    assert all(r.text(i) == t for i, t in corpus(25))


@pytest.mark.spec("R-RET-1")
def test_a_writer_that_ignores_the_lock_cannot_overwrite_committed_texts(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-RET-1: the generation is re-read from disk before each chunk's texts are written, so even
    a writer that commits a generation behind the lock's back (advisory locks are a no-op here)
    keeps its texts; every committed text stays readable."""
    monkeypatch.setattr(fcntl, "flock", lambda fd, op: None)
    others = corpus(3, prefix="e")
    nested: list = []

    def other_writer(ids, vectors) -> None:
        if not nested:
            nested.append(1)
            build(built, corpus(25) + others)

    docs = corpus(40)
    build(built, docs, on_chunk=other_writer)
    r = reopen(built)
    assert sorted(r.index.ids) == sorted([i for i, _ in docs + others])
    assert all(r.text(i) == t for i, t in docs + others)


@pytest.mark.spec("R-RET-1")
def test_texts_of_the_first_retriever_version_are_read(tmp_path: Path) -> None:
    """R-RET-1: a texts file without the header (the first retriever version's) is read and
    checked by its lines and ids; a damaged one is an IndexFormatError."""
    from lateint_ref.retrieval import texts

    path = tmp_path / "idx"
    docs = [(f"d{i}", f"text number {i}") for i in range(4)]
    Retriever.build(path, MODEL, docs, backend="numpy", progress=False)
    legacy = "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in docs)
    (path / texts.file_name(1)).write_text(legacy, encoding="utf-8")
    r = Retriever.open(path, backend="numpy")
    assert [r.text(i) for i, _ in docs] == [t for _, t in docs]
    (path / texts.file_name(1)).write_text(legacy[:-1], encoding="utf-8")  # no final newline
    with pytest.raises(IndexFormatError, match=r"texts-1\.jsonl"):
        Retriever.open(path, backend="numpy")
    (path / texts.file_name(1)).write_text(legacy.replace('"d2"', '"d9"'), encoding="utf-8")
    with pytest.raises(IndexFormatError, match="ids"):
        Retriever.open(path, backend="numpy")
