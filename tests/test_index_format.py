"""The index files (spec/index.md section 4): the container layout, what each kind holds, and that
every truncated, corrupted or inconsistent file raises ``IndexFormatError`` on open, naming the
file and the check, and nothing else.

A small writer of the R-INDEX-1 container lives here so that tests can change a section or a field
and recompute every CRC (section, header, the codec CRC in the segment, the manifest entries):
such files pass the CRC checks and must be caught by the consistency rules (R-INDEX-3..5).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import index as index_oracle

import lateint_ref as li
from lateint_ref import Index, IndexFormatError

MAGIC = b"LATEINT\x00"
PREFIX = struct.Struct("<8sIIII")  # magic, kind, version, n_fields, n_sections
ROW = struct.Struct("<QQII")  # section table: offset, length, CRC-32, zero
ENTRY = struct.Struct("<IIQII40s")  # manifest entry: role, zero, length, header CRC, zero, name
KIND_MANIFEST, KIND_CODEC, KIND_SEGMENT = 1, 2, 3


# ----------------------------------------------------------------------------- the container


@dataclass
class Container:
    """One parsed index file (R-INDEX-1)."""

    kind: int
    version: int
    fields: list[int]
    sections: list[bytes]


def header_len(n_fields: int, n_sections: int) -> int:
    return 24 + 8 * n_fields + 24 * n_sections + 4


def index_files(path: Path) -> dict[str, bytes]:
    """The index's files and their bytes; ``LOCK``, the writers' empty lock file (R-INDEX-6), is
    not an index file."""
    return {f.name: f.read_bytes() for f in path.iterdir() if f.name != "LOCK"}


def parse(blob: bytes) -> Container:
    """Reads a well-formed container (this is test code: it trusts the file)."""
    magic, kind, version, n_fields, n_sections = PREFIX.unpack_from(blob, 0)
    assert magic == MAGIC
    fields = list(struct.unpack_from(f"<{n_fields}Q", blob, 24))
    table = 24 + 8 * n_fields
    sections = []
    for i in range(n_sections):
        offset, length, _, _ = ROW.unpack_from(blob, table + 24 * i)
        sections.append(bytes(blob[offset : offset + length]))
    return Container(kind, version, fields, sections)


def build(c: Container, *, align: int = 64, gap: int = 0, table_zero: int = 0) -> bytes:
    """Writes ``c`` as R-INDEX-1 says (``align``, ``gap`` before the first section and
    ``table_zero`` exist to break that rule on purpose)."""
    start = header_len(len(c.fields), len(c.sections))
    offsets, pos = [], start
    for i, s in enumerate(c.sections):
        pos = -(-pos // align) * align + (gap if i == 0 else 0)
        offsets.append(pos)
        pos += len(s)
    head = PREFIX.pack(MAGIC, c.kind, c.version, len(c.fields), len(c.sections))
    head += struct.pack(f"<{len(c.fields)}Q", *c.fields)
    for off, s in zip(offsets, c.sections, strict=True):
        head += ROW.pack(off, len(s), zlib.crc32(s), table_zero)
    head += struct.pack("<I", zlib.crc32(head))
    out = bytearray(max(pos, start))
    out[:start] = head
    for off, s in zip(offsets, c.sections, strict=True):
        out[off : off + len(s)] = s
    return bytes(out)


def header_crc(blob: bytes) -> int:
    """The stored header CRC; 0 when the counts put it beyond the end (a corrupted file)."""
    n_fields, n_sections = struct.unpack_from("<II", blob, 16)
    at = header_len(n_fields, n_sections) - 4
    return struct.unpack_from("<I", blob, at)[0] if at + 4 <= len(blob) else 0


def reseal(blob: bytes) -> bytes:
    """Recomputes the header CRC after a raw edit of the header."""
    n_fields, n_sections = struct.unpack_from("<II", blob, 16)
    end = header_len(n_fields, n_sections) - 4
    return blob[:end] + struct.pack("<I", zlib.crc32(blob[:end])) + blob[end + 4 :]


def entries(manifest: Container) -> list[list]:
    s = manifest.sections[0]
    return [list(ENTRY.unpack_from(s, 64 * i)) for i in range(len(s) // 64)]


def pack_entries(rows: list[list]) -> bytes:
    return b"".join(ENTRY.pack(*r) for r in rows)


def entry_name(row: list) -> str:
    return row[5].rstrip(b"\x00").decode("ascii")


def array(c: Container, i: int, dtype: str) -> np.ndarray:
    """A writable copy of section ``i`` as little-endian ``dtype``."""
    return np.frombuffer(c.sections[i], dtype=np.dtype(dtype).newbyteorder("<")).copy()


def put(c: Container, i: int, a: np.ndarray) -> None:
    c.sections[i] = a.tobytes()


Edit = Callable[[Container], None] | None
Raw = Callable[[bytes], bytes] | None


def rewrite(
    path: Path,
    *,
    codec: Edit = None,
    segment: Edit = None,
    manifest: Edit = None,
    codec_raw: Raw = None,
    segment_raw: Raw = None,
    manifest_raw: Raw = None,
    link: bool = True,
) -> None:
    """Edits the index at ``path`` and recomputes what depends on the edit: section and header
    CRCs, the segment's codec CRC field (``link``) and the manifest's lengths and CRCs."""
    man = parse((path / "MANIFEST").read_bytes())
    rows = entries(man)
    codec_name, segment_name = entry_name(rows[0]), entry_name(rows[1])
    blob = (path / codec_name).read_bytes()
    if codec is not None:
        c = parse(blob)
        codec(c)
        blob = build(c)
    if codec_raw is not None:
        blob = codec_raw(blob)
    (path / codec_name).write_bytes(blob)
    codec_crc, codec_len = header_crc(blob), len(blob)
    seg_blob = (path / segment_name).read_bytes()
    if segment is not None or link:
        s = parse(seg_blob)
        if segment is not None:
            segment(s)
        if link:
            s.fields[7] = codec_crc
        seg_blob = build(s)
    if segment_raw is not None:
        seg_blob = segment_raw(seg_blob)
    (path / segment_name).write_bytes(seg_blob)
    rows[0][2], rows[0][3] = codec_len, codec_crc
    rows[1][2], rows[1][3] = len(seg_blob), header_crc(seg_blob)
    man.sections[0] = pack_entries(rows)
    if manifest is not None:
        manifest(man)
    man_blob = build(man)
    if manifest_raw is not None:
        man_blob = manifest_raw(man_blob)
    (path / "MANIFEST").write_bytes(man_blob)


# ----------------------------------------------------------------------------- fixtures


def _docs(seed: int, dim: int, lens: list[int]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((5, dim))
    x = centres[rng.integers(0, 5, sum(lens))] + 0.3 * rng.standard_normal((sum(lens), dim))
    x = x.astype(np.float32)
    bounds = np.cumsum([0, *lens])
    return [x[a:b] for a, b in itertools.pairwise(bounds)]


DOCS = _docs(1, 10, [3, 1, 6, 2, 8, 4, 5, 2, 7, 3, 1, 6])  # 48 tokens; dim * nbits = 20 bits
INT_IDS = [900 + 7 * j for j in range(12)]
STR_IDS = [f"doc-{j}-ü" for j in range(12)]


@functools.cache
def _pristine() -> dict[str, dict[str, bytes]]:
    """The files of two small indexes (int ids and str ids), by name, built once."""
    out = {}
    for kind, ids in (("int", INT_IDS), ("str", STR_IDS)):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "index"
            Index.create(path, DOCS, ids, n_centroids=8, metadata={"name": kind})
            out[kind] = index_files(path)
    return out


@pytest.fixture
def pristine() -> dict[str, dict[str, bytes]]:
    return _pristine()


@contextmanager
def copy_of(files: dict[str, bytes]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index"
        path.mkdir()
        for name, blob in files.items():
            (path / name).write_bytes(blob)
        yield path


def names(files: dict[str, bytes]) -> tuple[str, str]:
    """(codec name, segment name) as the manifest gives them."""
    rows = entries(parse(files["MANIFEST"]))
    return entry_name(rows[0]), entry_name(rows[1])


def rejected(path: Path, *culprits: str) -> str:
    """Open fails with IndexFormatError (nothing else) citing an R-INDEX requirement and naming
    one of the ``culprits`` files; returns the message."""
    with pytest.raises(IndexFormatError) as info:
        Index.open(path)
    msg = str(info.value)
    assert re.match(r"^R-INDEX-\d+: ", msg), msg
    assert any(c in msg for c in culprits), msg
    return msg


# ----------------------------------------------------------------------------- conformance


def _unpack_codes(raw: np.ndarray, dim: int, nbits: int) -> np.ndarray:
    """``[n, ceil(dim nbits / 8)] u8`` -> ``[n, dim]`` buckets, least significant bits first."""
    bits = np.unpackbits(raw, axis=1, bitorder="little")[:, : dim * nbits]
    weights = 1 << np.arange(nbits)
    return (bits.reshape(len(raw), dim, nbits) * weights).sum(axis=2).astype(np.uint8)


@pytest.mark.spec(
    "R-INDEX-1",
    "R-INDEX-3",
    "R-INDEX-4",
    "R-INDEX-5",
    "R-INDEX-7",
    "R-INDEX-18",
    "R-KMEANS-1",
    "R-QUANT-6",
    "R-QUANT-8",
)
@settings(max_examples=max(10, settings().max_examples // 2))  # one index built per example
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 17),
    st.sampled_from([1, 2, 4]),
    st.lists(st.integers(1, 9), min_size=1, max_size=25),
    st.sampled_from(["int", "str"]),
    st.integers(0, 2**64 - 1),
)
def test_files_follow_the_layout(
    seed: int, dim: int, nbits: int, lens: list[int], id_kind: str, build_seed: int
) -> None:
    """R-INDEX-1 (header, section table, 64-byte alignment, zero padding, exact length, CRCs),
    R-INDEX-3, R-INDEX-4, R-INDEX-5, R-INDEX-7: every file holds what the spec says, in its
    layout, equal to what the accessors return."""
    _check_layout(_docs(seed, dim, lens), nbits, id_kind, build_seed)


@pytest.mark.spec("R-INDEX-4", "R-INDEX-18", "R-KMEANS-1", "R-QUANT-6", "R-QUANT-8")
def test_files_follow_the_layout_above_the_sample_floor() -> None:
    """R-KMEANS-1 in the files: above 4096 sample tokens ``S = 32 K`` (here 40,000 tokens, K =
    1024, S = 32,768 < n_tokens), not a floor of 4096 or another multiple of K."""
    docs = _docs(7, 4, [20] * 2000)
    k, s = index_oracle.default_sizes(40_000)
    assert (k, s) == (1024, 32 * 1024)
    _check_layout(docs, 2, "int", 5)


def _check_layout(docs: list[np.ndarray], nbits: int, id_kind: str, build_seed: int) -> None:
    """Builds an index of ``docs`` and checks every file against the spec's layout."""
    lens = [len(d) for d in docs]
    dim = docs[0].shape[1]
    n_docs, n_tokens = len(docs), sum(lens)
    ids = list(range(-3, n_docs - 3)) if id_kind == "int" else [f"é{j}" * j for j in range(n_docs)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index"
        index = Index.create(path, docs, ids, nbits=nbits, seed=build_seed, kmeans_iters=3)
        files = index_files(path)
        assert index.stats()["bytes_on_disk"] == sum(map(len, files.values()))
    for blob in files.values():
        assert build(parse(blob)) == blob  # the layout, byte for byte
    k = index.n_centroids
    n_buckets = 2**nbits

    man = parse(files["MANIFEST"])
    assert (man.kind, man.version) == (KIND_MANIFEST, 1)
    assert man.fields[1:] == [2, dim, nbits, n_docs, n_tokens]
    rows = entries(man)
    assert len(man.sections) == 1
    assert len(man.sections[0]) == 64 * 2
    assert [r[0] for r in rows] == [1, 2]
    assert set(files) == {"MANIFEST", *(entry_name(r) for r in rows)}
    for role, zero1, length, crc, zero2, raw_name in rows:
        name = raw_name.rstrip(b"\x00")
        assert zero1 == zero2 == 0
        assert re.fullmatch(rb"[A-Za-z0-9._-]+", name)
        assert raw_name == name.ljust(40, b"\x00")
        assert length == len(files[name.decode()])
        assert crc == header_crc(files[name.decode()])
        assert role == {KIND_CODEC: 1, KIND_SEGMENT: 2}[parse(files[name.decode()]).kind]

    codec_name, segment_name = entry_name(rows[0]), entry_name(rows[1])
    codec = parse(files[codec_name])
    assert k == index_oracle.default_sizes(n_tokens)[0]
    s = index_oracle.default_sizes(n_tokens)[1]  # R-KMEANS-1
    assert (codec.kind, codec.version) == (KIND_CODEC, 4)  # R-INDEX-4: version 4
    assert codec.fields[:6] == [dim, nbits, k, build_seed, s, 3]
    assert codec.fields[7] == 8  # R-QUANT-6: the product iterations
    # R-QUANT-8: the weight along the token (f64 bits) and the passes
    assert struct.unpack("<d", struct.pack("<Q", codec.fields[8]))[0] == 2.0
    assert codec.fields[9] == 2
    assert len(codec.fields) == 10
    far2 = struct.unpack("<d", struct.pack("<Q", codec.fields[6]))[0]
    assert far2 >= 0
    assert np.sqrt(far2) == index.stats()["far_threshold"]
    assert len(codec.sections) == 5
    full = dim * nbits // 8  # R-INDEX-4, R-QUANT-6: the product rows of the full code bytes
    np.testing.assert_array_equal(
        array(codec, 4, "f4").reshape(full, 256, 8 // nbits), index.table[:full]
    )
    np.testing.assert_array_equal(array(codec, 0, "f4").reshape(k, dim), index.centroids)
    np.testing.assert_array_equal(array(codec, 1, "f4").reshape(dim, n_buckets - 1), index.cutoffs)
    np.testing.assert_array_equal(array(codec, 2, "f4").reshape(dim, n_buckets), index.weights)
    assert json.loads(codec.sections[3].decode("utf-8")) == {} == index.metadata

    seg = parse(files[segment_name])
    assert (seg.kind, seg.version) == (KIND_SEGMENT, 4)
    assert len(seg.sections) == 9
    dim_, nbits_, k_, n_docs_, n_tokens_, n_pairs, kind_, codec_crc, n_far = seg.fields
    assert (dim_, nbits_, k_, n_docs_, n_tokens_) == (dim, nbits, k, n_docs, n_tokens)
    assert kind_ == (0 if id_kind == "int" else 1)
    assert codec_crc == header_crc(files[codec_name])
    np.testing.assert_array_equal(array(seg, 0, "u8"), np.cumsum([0, *lens]))
    codes = [index.codes(p) for p in range(n_docs)]
    centroid_ids = array(seg, 1, "u2")
    np.testing.assert_array_equal(centroid_ids, np.concatenate([c[0] for c in codes]))
    row_bytes = -(-dim * nbits // 8)
    raw = array(seg, 2, "u1").reshape(n_tokens, row_bytes)
    np.testing.assert_array_equal(
        _unpack_codes(raw, dim, nbits), np.concatenate([c[1] for c in codes])
    )
    used = dim * nbits - 8 * (row_bytes - 1)
    assert (raw[:, -1] >> used == 0).all()  # unused high bits are zero
    lists = [sorted(p for p in range(n_docs) if j in set(codes[p][0].tolist())) for j in range(k)]
    p = array(seg, 3, "u8")
    np.testing.assert_array_equal(p, np.cumsum([0, *(len(x) for x in lists)]))
    assert n_pairs == p[-1]
    np.testing.assert_array_equal(array(seg, 4, "u4"), [d for x in lists for d in x])
    if id_kind == "int":
        np.testing.assert_array_equal(array(seg, 5, "i8"), ids)
        assert seg.sections[6] == b""
    else:
        text = [i.encode() for i in ids]
        np.testing.assert_array_equal(array(seg, 5, "u8"), np.cumsum([0, *map(len, text)]))
        assert seg.sections[6] == b"".join(text)
    np.testing.assert_array_equal(array(seg, 7, "f4").reshape(dim, 2), index.bounds)
    far = array(seg, 8, "u4")  # R-INDEX-18: far tokens per document
    assert len(far) == n_docs
    assert (far <= lens).all()
    assert far.sum() == n_far
    assert n_far == index.stats()["far_tokens"]


def test_rewrite_helper_is_faithful(pristine: dict) -> None:
    """The container writer reproduces the files, and an edit that stays valid (other metadata,
    so new lengths and CRCs everywhere) still opens: the rejections below are due to their
    mutation alone."""
    for files in pristine.values():
        with copy_of(files) as path:
            rewrite(path)
            assert index_files(path) == files
            rewrite(path, codec=lambda c: c.sections.__setitem__(3, b'{"x": [1, 2, "\xc3\xbc"]}'))
            index = Index.open(path)
            assert index.metadata == {"x": [1, 2, "ü"]}
            assert len(index) == len(DOCS)
            assert index.search(DOCS[0], k=2, exhaustive=True)[0].ids


# ----------------------------------------------------------------------------- raw corruption


FILE_CASES = [(k, n) for k in ("int", "str") for n in ("MANIFEST", "codec", "segment")]


def _resolve(files: dict[str, bytes], which: str) -> str:
    codec_name, segment_name = names(files)
    return {"MANIFEST": "MANIFEST", "codec": codec_name, "segment": segment_name}[which]


@pytest.mark.spec("R-INDEX-1", "R-INDEX-2", "R-INDEX-3")
@pytest.mark.parametrize(("kind", "which"), FILE_CASES)
def test_every_truncation_is_rejected(pristine: dict, kind: str, which: str) -> None:
    """R-INDEX-1, R-INDEX-2, R-INDEX-3: a file cut at any length (0 included) fails on open with
    IndexFormatError naming it; so does one byte more."""
    files = pristine[kind]
    name = _resolve(files, which)
    blob = files[name]
    with copy_of(files) as path:
        target = path / name
        with target.open("ab") as f:  # in place: this is much faster than rewriting the file
            f.write(b"\x00")
        rejected(path, name)
        for n in range(len(blob), -1, -1):
            os.truncate(target, n)
            if n < len(blob):
                rejected(path, name)
        target.write_bytes(blob)
        Index.open(path)  # the control: the restored file opens


@pytest.mark.spec("R-INDEX-1", "R-INDEX-2")
@pytest.mark.parametrize(("kind", "which"), FILE_CASES)
def test_every_byte_flip_is_rejected(pristine: dict, kind: str, which: str) -> None:
    """R-INDEX-1, R-INDEX-2: every byte of every file is covered by a CRC or the zero-padding
    rule, so any flipped byte fails on open (a sweep over every position)."""
    files = pristine[kind]
    name = _resolve(files, which)
    blob = files[name]
    rng = np.random.default_rng(len(blob))
    with copy_of(files) as path, (path / name).open("r+b", buffering=0) as f:
        for pos in range(len(blob)):
            f.seek(pos)
            f.write(bytes([blob[pos] ^ int(rng.integers(1, 256))]))
            rejected(path, name)
            f.seek(pos)
            f.write(blob[pos : pos + 1])
        Index.open(path)  # the control: the restored file opens


@pytest.mark.spec("R-INDEX-2")
@given(st.data())
def test_random_corruption_is_rejected(data: st.DataObject) -> None:
    """R-INDEX-2: several flipped bytes, then possibly a cut, in any file: IndexFormatError on
    open, never another exception or a crash."""
    files = _pristine()[data.draw(st.sampled_from(["int", "str"]))]
    name = data.draw(st.sampled_from(sorted(files)))
    blob = bytearray(files[name])
    where = st.integers(0, len(blob) - 1)
    for pos in data.draw(st.lists(where, min_size=1, max_size=4, unique=True)):
        blob[pos] ^= data.draw(st.integers(1, 255))
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob)))]
    with copy_of(files) as path:
        (path / name).write_bytes(bytes(blob))
        with pytest.raises(IndexFormatError):
            Index.open(path)


@pytest.mark.spec("R-INDEX-3")
@pytest.mark.parametrize("which", ["MANIFEST", "codec", "segment"])
def test_missing_or_replaced_files(pristine: dict, which: str) -> None:
    """R-INDEX-3: every named file must exist with its length and header CRC; a missing MANIFEST
    is no index."""
    files = pristine["int"]
    name = _resolve(files, which)
    with copy_of(files) as path:
        (path / name).unlink()
        rejected(path, name)
        (path / name).mkdir()  # a directory where a file should be
        rejected(path, name)
        (path / name).rmdir()
        other = pristine["str"][name]  # the same file of another index: wrong length or CRC
        (path / name).write_bytes(other)
        rejected(path, name, *names(files))


# ------------------------------------------------------------------ valid CRCs, bad content


def _set_field(i: int, value: int) -> Callable[[Container], None]:
    def edit(c: Container) -> None:
        c.fields[i] = value

    return edit


def _edit_array(i: int, dtype: str, fn: Callable[[np.ndarray], None]) -> Callable:
    def edit(c: Container) -> None:
        a = array(c, i, dtype)
        fn(a)
        put(c, i, a)

    return edit


def _unsort_a_document(c: Container) -> None:
    """Reverses the centroid ids (and codes) of a document holding several distinct ids."""
    o, ids = array(c, 0, "u8"), array(c, 1, "u2")
    codes = bytearray(c.sections[2])
    width = len(codes) // len(ids)
    for a, b in itertools.pairwise(o):
        if len(set(ids[a:b].tolist())) > 1:
            ids[a:b] = ids[a:b][::-1].copy()
            rows = [codes[t * width : (t + 1) * width] for t in range(a, b)][::-1]
            codes[a * width : b * width] = b"".join(rows)
            put(c, 1, ids)
            c.sections[2] = bytes(codes)
            return
    raise AssertionError("fixture has no document with two centroids")


def _swap_docs_offsets(c: Container) -> None:
    o = array(c, 0, "u8")
    j = next(j for j in range(1, len(o) - 2) if o[j] < o[j + 1])
    o[j], o[j + 1] = o[j + 1], o[j]
    put(c, 0, o)


def _empty_document(c: Container) -> None:
    o = array(c, 0, "u8")
    j = next(j for j in range(1, len(o) - 1) if o[j + 1] - o[j - 1] >= 2 and o[j] - o[j - 1] >= 1)
    o[j] = o[j - 1]  # document j - 1 loses its tokens to document j
    put(c, 0, o)


def _lists(c: Container) -> tuple[np.ndarray, np.ndarray]:
    return array(c, 3, "u8"), array(c, 4, "u4")


def _foreign_doc_in_list(c: Container) -> None:
    """A list names a document that has no token of its centroid (order kept strictly rising)."""
    o, ids = array(c, 0, "u8"), array(c, 1, "u2")
    has = [set(ids[a:b].tolist()) for a, b in itertools.pairwise(o)]
    p, docs = _lists(c)
    for k in range(len(p) - 1):
        lst = docs[p[k] : p[k + 1]].tolist()
        for j in range(len(lst)):
            lo = lst[j - 1] if j else -1
            hi = lst[j + 1] if j + 1 < len(lst) else len(has)
            for d in range(lo + 1, hi):
                if k not in has[d]:
                    docs[p[k] + j] = d
                    put(c, 4, docs)
                    return
    raise AssertionError("fixture has no replaceable list entry")


def _drop_from_list(c: Container) -> None:
    """A list misses a document that has its centroid (offsets and n_pairs kept consistent)."""
    p, docs = _lists(c)
    k = next(k for k in range(len(p) - 1) if p[k + 1] > p[k])
    docs = np.delete(docs, p[k])
    p[k + 1 :] -= 1
    put(c, 3, p)
    put(c, 4, docs)
    c.fields[5] -= 1


def _duplicate_in_list(c: Container) -> None:
    p, docs = _lists(c)
    k = next(k for k in range(len(p) - 1) if p[k + 1] - p[k] >= 2)
    docs[p[k] + 1] = docs[p[k]]
    put(c, 4, docs)


def _extra_centroid_in_segment(c: Container) -> None:
    """Segment K = codec K + 1, self-consistent (one more, empty, inverted list)."""
    p = array(c, 3, "u8")
    put(c, 3, np.append(p, p[-1]))
    c.fields[2] += 1


def _str_ids(fn: Callable[[list[bytes]], list[bytes]]) -> Callable[[Container], None]:
    def edit(c: Container) -> None:
        o = array(c, 5, "u8")
        text = c.sections[6]
        ids = fn([text[a:b] for a, b in itertools.pairwise(o)])
        put(c, 5, np.cumsum([0, *map(len, ids)]).astype("<u8"))
        c.sections[6] = b"".join(ids)

    return edit


def _cutoffs_decrease(c: Container) -> None:
    dim, nbits = c.fields[0], c.fields[1]
    cut = array(c, 1, "f4").reshape(dim, 2**nbits - 1)
    d = next(d for d in range(dim) if cut[d, 0] < cut[d, -1])
    cut[d, 0], cut[d, -1] = cut[d, -1], cut[d, 0]
    put(c, 1, cut)


def _set_float(i: int, pos: int, value: float) -> Callable[[Container], None]:
    return _edit_array(i, "f4", lambda a: a.__setitem__(pos, value))


def _version_1(c: Container) -> None:
    """A file of format version 1: the codec's far threshold field, or the segment's ``n_far``
    field and far counts section, dropped (R-INDEX-18)."""
    c.version = 1
    if c.kind == KIND_CODEC:
        del c.fields[6:]
        del c.sections[4:]
    else:
        del c.fields[8:]
        del c.sections[8:]


def _version_2(c: Container) -> None:
    """A file of format version 2: the codec's product iterations field and product rows
    dropped (R-INDEX-4); a segment's header alone says 2."""
    c.version = 2
    if c.kind == KIND_CODEC:
        del c.fields[7:]
        del c.sections[4:]


def _version_3(c: Container) -> None:
    """A file of format version 3: the codec's R-QUANT-8 fields dropped (R-INDEX-4); a segment's
    header alone says 3."""
    c.version = 3
    if c.kind == KIND_CODEC:
        del c.fields[8:]


def _far_count_above_tokens(c: Container) -> None:
    """Document 0's far count above its tokens, ``n_far`` still the sum (R-INDEX-18)."""
    far = array(c, 8, "u4")
    far[0] = 2**31
    put(c, 8, far)
    c.fields[8] = int(far.astype(np.uint64).sum())


SEGMENT_CASES = {
    "centroid id = K": ("int", _edit_array(1, "u2", lambda a: a.__setitem__(-1, 8))),
    "centroid id = 65535": ("int", _edit_array(1, "u2", lambda a: a.__setitem__(-1, 65535))),
    "centroid ids unsorted in a document": ("int", _unsort_a_document),
    "doc offsets o[0] != 0": ("int", _edit_array(0, "u8", lambda a: a.__setitem__(0, 1))),
    "doc offsets end != n_tokens": (
        "int",
        _edit_array(0, "u8", lambda a: a.__setitem__(-1, a[-1] - 1)),
    ),
    "doc offsets decrease": ("int", _swap_docs_offsets),
    "empty document": ("int", _empty_document),
    "unused code bits set": ("int", _edit_array(2, "u1", lambda a: a.__setitem__(2, a[2] | 0x80))),
    "ivf offsets p[0] != 0": ("int", _edit_array(3, "u8", lambda a: a.__setitem__(0, 1))),
    "ivf offsets end != n_pairs": (
        "int",
        _edit_array(3, "u8", lambda a: a.__setitem__(-1, a[-1] - 1)),
    ),
    "ivf offsets decrease": (
        "int",
        _edit_array(3, "u8", lambda a: a.__setitem__(1, a[-1])),
    ),
    "ivf doc id = n_docs": ("int", _edit_array(4, "u4", lambda a: a.__setitem__(-1, 12))),
    "ivf doc id = 2^32 - 1": ("int", _edit_array(4, "u4", lambda a: a.__setitem__(-1, 2**32 - 1))),
    "ivf list not increasing": ("int", _duplicate_in_list),
    "ivf list names a foreign document": ("int", _foreign_doc_in_list),
    "ivf list misses a document": ("int", _drop_from_list),
    "duplicate int ids": ("int", _edit_array(5, "i8", lambda a: a.__setitem__(3, a[4]))),
    "id_kind 2": ("int", _set_field(6, 2)),
    "id_kind 1 on int ids": ("int", _set_field(6, 1)),
    "duplicate str ids": ("str", _str_ids(lambda ids: [*ids[:-1], ids[0]])),
    "str id not UTF-8": ("str", _str_ids(lambda ids: [b"\xff\xfe", *ids[1:]])),
    "str id offsets decrease": (
        "str",
        _edit_array(5, "u8", lambda a: a.__setitem__(1, a[2] + 1)),
    ),
    "str id offsets end early": (
        "str",
        _edit_array(5, "u8", lambda a: a.__setitem__(-1, a[-1] - 1)),
    ),
    "K differs from the codec's": ("int", _extra_centroid_in_segment),
    "n_pairs field off by one": ("int", _set_field(5, 0)),
    "n_tokens field huge": ("int", _set_field(4, 2**64 - 1)),
    "n_docs field huge": ("int", _set_field(3, 2**63)),
    "K field huge": ("int", _set_field(2, 2**64 - 1)),
    "nbits field 3": ("int", _set_field(1, 3)),
    "dim field 0": ("int", _set_field(0, 0)),
    "version 5": ("int", lambda c: setattr(c, "version", 5)),
    "version 0": ("int", lambda c: setattr(c, "version", 0)),
    "version 1 with a version 4 codec": ("int", _version_1),
    "version 2 with a version 4 codec": ("int", _version_2),
    "version 3 with a version 4 codec": ("int", _version_3),
    "version 1 with 9 fields": ("int", lambda c: setattr(c, "version", 1)),
    "far counts sum above n_far": ("int", _set_field(8, 2**40)),
    "a far count above its document's tokens": ("int", _far_count_above_tokens),
    "kind 2": ("int", lambda c: setattr(c, "kind", KIND_CODEC)),
    "an extra field": ("int", lambda c: c.fields.append(0)),
    "an extra section": ("int", lambda c: c.sections.append(b"")),
}


@pytest.mark.spec("R-INDEX-2", "R-INDEX-5", "R-INDEX-7")
@pytest.mark.parametrize("case", sorted(SEGMENT_CASES))
def test_inconsistent_segment_is_rejected(pristine: dict, case: str) -> None:
    """R-INDEX-5, R-INDEX-2, R-INDEX-7: a segment with valid CRCs but content that breaks a rule
    of its kind (offsets, centroid ids and their order, unused bits, inverted lists and their
    agreement with the codes, ids, fields, version) fails on open, naming the file."""
    kind, edit = SEGMENT_CASES[case]
    files = pristine[kind]
    codec_name, segment_name = names(files)
    with copy_of(files) as path:
        rewrite(path, segment=edit)
        assert (path / segment_name).read_bytes() != files[segment_name]
        culprits = (segment_name, codec_name) if case.startswith("K ") else (segment_name,)
        rejected(path, *culprits)


CODEC_CASES = {
    "NaN centroid": _set_float(0, 3, float("nan")),
    "infinite centroid": _set_float(0, 0, float("-inf")),
    "NaN cutoff": _set_float(1, 1, float("nan")),
    "infinite bucket value": _set_float(2, 5, float("inf")),
    "cutoffs decrease": _cutoffs_decrease,
    "metadata not UTF-8": lambda c: c.sections.__setitem__(3, b'{"a": "\xff"}'),
    "metadata not JSON": lambda c: c.sections.__setitem__(3, b"{"),
    "metadata empty": lambda c: c.sections.__setitem__(3, b""),
    "K field + 1": _set_field(2, 9),
    "nbits field 3": _set_field(1, 3),
    "dim field huge": _set_field(0, 2**62),
    "version 5": lambda c: setattr(c, "version", 5),
    "version 1 with 10 fields": lambda c: setattr(c, "version", 1),
    "version 2 with 10 fields and 5 sections": lambda c: setattr(c, "version", 2),
    "version 3 with 10 fields": lambda c: setattr(c, "version", 3),
    "version 1 codec with version 4 segments": _version_1,
    "version 2 codec with version 4 segments": _version_2,
    "version 3 codec with version 4 segments": _version_3,
    "weight along the token below 1": _set_field(8, struct.unpack("<Q", struct.pack("<d", 0.5))[0]),
    "weight along the token NaN": _set_field(8, 0x7FF8000000000000),
    "weight along the token infinite": _set_field(8, 0x7FF0000000000000),
    "coding passes above 1000": _set_field(9, 1001),
    "NaN product row value": _set_float(4, 7, float("nan")),
    "infinite product row value": _set_float(4, 0, float("inf")),
    "product rows cut short": lambda c: c.sections.__setitem__(4, c.sections[4][:-4]),
    "product iterations above 1000": _set_field(7, 1001),
    "far threshold negative": _set_field(6, struct.unpack("<Q", struct.pack("<d", -1.0))[0]),
    "far threshold NaN": _set_field(6, 0x7FF8000000000000),
    "far threshold infinite": _set_field(6, 0x7FF0000000000000),
    "kind 3": lambda c: setattr(c, "kind", KIND_SEGMENT),
    "an extra field": lambda c: c.fields.append(0),
    "a missing section": lambda c: c.sections.pop(),
}


@pytest.mark.spec("R-INDEX-2", "R-INDEX-4", "R-INDEX-7")
@pytest.mark.parametrize("case", sorted(CODEC_CASES))
def test_inconsistent_codec_is_rejected(pristine: dict, case: str) -> None:
    """R-INDEX-4, R-INDEX-2, R-INDEX-7: every float finite, cutoffs non-decreasing, metadata
    UTF-8 JSON, section lengths as the fields imply, known version and kind."""
    files = pristine["int"]
    codec_name, segment_name = names(files)
    with copy_of(files) as path:
        rewrite(path, codec=CODEC_CASES[case])
        assert (path / codec_name).read_bytes() != files[codec_name]
        rejected(path, codec_name, segment_name)


def _rows(fn: Callable[[list[list]], list[list]]) -> Callable[[Container], None]:
    def edit(c: Container) -> None:
        rows = fn(entries(c))
        c.sections[0] = pack_entries(rows)
        c.fields[1] = len(rows)

    return edit


def _row(i: int, col: int, value: object) -> Callable[[Container], None]:
    def fn(rows: list[list]) -> list[list]:
        rows[i][col] = value
        return rows

    return _rows(fn)


MANIFEST_CASES = {
    "role 3 (tombstones, unknown to version 1)": _row(1, 0, 3),
    "role 4": _row(1, 0, 4),
    "role 0": _row(0, 0, 0),
    "segment first": _rows(lambda r: r[::-1]),
    "no segment": _rows(lambda r: r[:1]),
    "no codec": _rows(lambda r: r[1:]),
    "two codecs": _rows(lambda r: [r[0], r[0], r[1]]),
    "no file": _rows(lambda r: []),
    "zero field set": _row(1, 1, 1),
    "second zero field set": _row(0, 4, 7),
    "wrong length": _row(1, 2, 5),
    "wrong codec header CRC": _row(0, 3, 12345),
    "wrong segment header CRC": _row(1, 3, 12345),
    "name with a slash": _row(1, 5, b"../index/segment".ljust(40, b"\x00")),
    "name of a missing file": _row(1, 5, b"segment-9.lis".ljust(40, b"\x00")),
    "empty name": _row(1, 5, b"\x00" * 40),
    "name with a space": _row(1, 5, b"seg ment".ljust(40, b"\x00")),
    "bytes after the NUL padding": _row(1, 5, b"a\x00b".ljust(40, b"\x00")),
    "n_files field off": _set_field(1, 3),
    "dim field differs": _set_field(2, 11),
    "nbits field differs": _set_field(3, 4),
    "n_docs field differs": _set_field(4, 13),
    "n_tokens field differs": _set_field(5, 47),
    "version 2": lambda c: setattr(c, "version", 2),
    "kind 3": lambda c: setattr(c, "kind", KIND_SEGMENT),
    "an extra section": lambda c: c.sections.append(b""),
}


@pytest.mark.spec("R-INDEX-3", "R-INDEX-7")
@pytest.mark.parametrize("case", sorted(MANIFEST_CASES))
def test_inconsistent_manifest_is_rejected(pristine: dict, case: str) -> None:
    """R-INDEX-3, R-INDEX-7: one codec first, then segments; known roles; zero fields; safe
    names of existing files with their length and header CRC; dim, nbits and counts agreeing."""
    files = pristine["int"]
    with copy_of(files) as path:
        rewrite(path, manifest=MANIFEST_CASES[case])
        assert (path / "MANIFEST").read_bytes() != files["MANIFEST"]
        rejected(path, "MANIFEST", "segment-9.lis", *names(files))


def _table_length(i: int, value: int) -> Callable[[bytes], bytes]:
    def raw(blob: bytes) -> bytes:
        n_fields, n_sections = struct.unpack_from("<II", blob, 16)
        at = 24 + 8 * n_fields + 24 * min(i, n_sections - 1) + 8
        return reseal(blob[:at] + struct.pack("<Q", value) + blob[at + 8 :])

    return raw


def _pad_byte(blob: bytes) -> bytes:
    """Sets the last padding byte before the first section (not covered by any CRC)."""
    n_fields, n_sections = struct.unpack_from("<II", blob, 16)
    start = header_len(n_fields, n_sections)
    first = struct.unpack_from("<Q", blob, 24 + 8 * n_fields)[0]
    assert first > start  # the fixture's header is not a multiple of 64
    return blob[: first - 1] + b"\x01" + blob[first:]


RAW_CASES = {
    "bad magic": lambda b: reseal(b"LATEINX\x00" + b[8:]),
    "section table zero field": lambda b: build(parse(b), table_zero=1),
    "sections packed without alignment": lambda b: build(parse(b), align=8),
    "a 64-byte gap before the first section": lambda b: build(parse(b), gap=64),
    "nonzero padding": _pad_byte,
    "a trailing byte": lambda b: b + b"\x00",
    "section length huge": _table_length(1, 2**64 - 1),
    "section length one short": _table_length(0, 0),
    "n_fields huge": lambda b: b[:16] + b"\xff\xff\xff\xff" + b[20:],
    "n_sections huge": lambda b: b[:20] + b"\xff\xff\xff\x7f" + b[24:],
}


@pytest.mark.spec("R-INDEX-1", "R-INDEX-2")
@pytest.mark.parametrize("which", ["MANIFEST", "codec", "segment"])
@pytest.mark.parametrize("case", sorted(RAW_CASES))
def test_bad_container_is_rejected(pristine: dict, case: str, which: str) -> None:
    """R-INDEX-1, R-INDEX-2: magic, the zero field of the section table, 64-byte alignment at
    the first multiple, zero padding, exact length, sizes checked before use (with every CRC
    and manifest entry recomputed, so only the broken rule can catch it)."""
    files = pristine["int"]
    _codec_name, _segment_name = names(files)
    name = _resolve(files, which)
    raw = RAW_CASES[case]
    with copy_of(files) as path:
        if which == "MANIFEST":
            rewrite(path, manifest_raw=raw)
        elif which == "codec":
            rewrite(path, codec_raw=raw)
        else:
            rewrite(path, segment_raw=raw)
        assert (path / name).read_bytes() != files[name]
        rejected(path, name)


@pytest.mark.spec("R-INDEX-5")
def test_segment_names_another_codec(pristine: dict) -> None:
    """R-INDEX-5: the segment's codec CRC field must be the codec's header CRC."""
    files = pristine["int"]
    _, segment_name = names(files)
    with copy_of(files) as path:
        rewrite(path, segment=lambda c: c.fields.__setitem__(7, c.fields[7] ^ 1), link=False)
        rejected(path, segment_name)


@pytest.mark.spec("R-INDEX-6")
def test_mixed_files_of_two_indexes_are_rejected(pristine: dict) -> None:
    """R-INDEX-6: a reader sees a whole index: the files of two indexes mixed (codec of one,
    segment of the other) are rejected even with every length and CRC in the manifest right."""
    a, b = pristine["int"], pristine["str"]
    codec_name, segment_name = names(a)
    with copy_of(a) as path:
        (path / segment_name).write_bytes(b[names(b)[1]])
        rewrite(path, link=False)  # manifest now matches the files; the segment's codec CRC not
        rejected(path, segment_name, codec_name)


@pytest.mark.spec("R-INDEX-6")
def test_open_does_not_write(pristine: dict) -> None:
    """R-INDEX-6: opening and searching leave the files as they were."""
    with copy_of(pristine["int"]) as path:
        index = Index.open(path)
        index.search(DOCS[2], k=3)
        index.decode(range(len(index)))
        assert index_files(path) == pristine["int"]


@pytest.mark.spec("R-INDEX-3")
def test_copied_index_opens_elsewhere(pristine: dict, tmp_path: Path) -> None:
    """R-INDEX-3: names are relative; a copied directory is the same index."""
    with copy_of(pristine["str"]) as path:
        shutil.copytree(path, tmp_path / "moved")
        a, b = Index.open(path), Index.open(tmp_path / "moved")
        assert a.ids == b.ids == STR_IDS
        q = DOCS[4]
        assert a.search(q, k=4, exhaustive=True)[0].ids == b.search(q, k=4, exhaustive=True)[0].ids
        np.testing.assert_array_equal(li.maxsim(q, a.decode([0])), li.maxsim(q, b.decode([0])))
