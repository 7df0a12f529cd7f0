"""Writes the seed corpus of the fuzz targets (fuzz/README.md) from real index files.

Builds two small indexes with the Python API (``.venv/bin/python fuzz/seeds.py``, from the
repository root): one of 6 documents of dim 4, nbits 2, integer ids; one of dim 3, nbits 1, string
ids, two segments and a tombstones file. Their files (format version 4), and copies rewritten as
versions 1 to 3 (fields and sections dropped as spec/index.md R-INDEX-4, R-INDEX-5 and R-INDEX-18
describe, CRCs recomputed), become:

- ``fuzz/fixtures/codec-*``: the codecs the ``index`` target checks segments against;
- ``fuzz/corpus/index/seed-*``: each file behind a flags byte (``fuzz/src/index.rs``);
- ``fuzz/corpus/packed/seed-*``: packed batches (``fuzz/src/packed.rs``) cut from the same
  documents.

Deterministic: the same bytes on every run (seeded documents, R-KMEANS-5).
"""

from __future__ import annotations

import shutil
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

import lateint_ref as li

FUZZ = Path(__file__).resolve().parent
ALIGN = 64
KIND_CODEC, KIND_SEGMENT = 2, 3


def parse(b: bytes) -> tuple[int, int, list[int], list[bytes]]:
    """(kind, version, fields, sections) of a container (R-INDEX-1)."""
    kind, version, nf, ns = struct.unpack_from("<IIII", b, 8)
    fields = list(struct.unpack_from(f"<{nf}Q", b, 24))
    sections = []
    for i in range(ns):
        off, ln, _crc, _ = struct.unpack_from("<QQII", b, 24 + 8 * nf + 24 * i)
        sections.append(b[off : off + ln])
    return kind, version, fields, sections


def align(x: int) -> int:
    return -(-x // ALIGN) * ALIGN


def write(kind: int, version: int, fields: list[int], sections: list[bytes]) -> bytes:
    """The container of these fields and sections (R-INDEX-1), as rust/index/format/container.rs."""
    h = b"LATEINT\0" + struct.pack("<IIII", kind, version, len(fields), len(sections))
    h += struct.pack(f"<{len(fields)}Q", *fields)
    at = align(len(h) + 24 * len(sections) + 4)
    for s in sections:
        h += struct.pack("<QQII", at, len(s), zlib.crc32(s), 0)
        at = align(at + len(s))
    h += struct.pack("<I", zlib.crc32(h))
    out = bytearray(h)
    for s in sections:
        out += bytes(align(len(out)) - len(out)) + s
    return bytes(out)


def header_crc(b: bytes) -> int:
    _, _, nf, ns = struct.unpack_from("<IIII", b, 8)
    return struct.unpack_from("<I", b, 24 + 8 * nf + 24 * ns)[0]


def older(b: bytes, version: int, codec_crc: int | None) -> bytes:
    """File `b` (version 4) rewritten as `version` (tests/test_index_format.py does the same);
    a segment's codec CRC field set to `codec_crc`."""
    kind, _, fields, sections = parse(b)
    if kind == KIND_CODEC:
        keep = {1: (6, 4), 2: (7, 4), 3: (8, 5)}[version]
        fields, sections = fields[: keep[0]], sections[: keep[1]]
    elif kind == KIND_SEGMENT:
        if version == 1:
            fields, sections = fields[:8], sections[:8]
        fields[7] = codec_crc
    return write(kind, version, fields, sections)


def main() -> None:
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp())
    try:
        docs_a = [
            rng.standard_normal((int(n), 4)).astype(np.float32) for n in rng.integers(1, 4, 6)
        ]
        li.Index.create(tmp / "a", docs_a, nbits=2, n_centroids=4, progress=False)
        docs_b = [
            rng.standard_normal((int(n), 3)).astype(np.float32) for n in rng.integers(1, 4, 5)
        ]
        ix = li.Index.create(
            tmp / "b",
            docs_b,
            ids=["a", "bb", "c\u00e9", "d", "e"],
            nbits=1,
            n_centroids=2,
            progress=False,
        )
        ix = ix.add([rng.standard_normal((2, 3)).astype(np.float32)], ids=["f"])
        ix.delete(["bb", "f"])
        fixtures, index, packed = FUZZ / "fixtures", FUZZ / "corpus/index", FUZZ / "corpus/packed"
        for d in (fixtures, index, packed):
            d.mkdir(parents=True, exist_ok=True)
            for old in d.glob("codec-*" if d == fixtures else "seed-*"):
                old.unlink()
        for name in ("a", "b"):
            files = {
                p.name: p.read_bytes() for p in sorted((tmp / name).glob("*")) if p.name != "LOCK"
            }
            codec = files["codec-1.lti"]
            for v in (1, 2, 3, 4):
                c = codec if v == 4 else older(codec, v, None)
                (fixtures / f"codec-{name}-v{v}").write_bytes(c)
                for f, b in files.items():
                    if f == "MANIFEST" or f.startswith("tombstones"):
                        if v < 4:
                            continue
                    elif v < 4:
                        b = older(b, v, header_crc(c))
                    stem = f.removesuffix(".lti")
                    # Flags 1: the target recomputes the CRCs after each mutation; 0: it does not.
                    (index / f"seed-{name}-{stem}-v{v}").write_bytes(b"\x01" + b)
                    if v == 4:
                        (index / f"seed-{name}-{stem}-raw").write_bytes(b"\x00" + b)
        # Packed batches: dim (u16), n_items (u16), then offsets (i64) and values (f32).
        for name, docs, what in (("a", docs_a, 0), ("b", docs_b, 1)):
            offsets = np.cumsum([0] + [len(d) for d in docs]).astype("<i8")
            data = np.concatenate(docs).astype("<f4")
            head = struct.pack("<BHH", what, docs[0].shape[1], len(offsets))
            (packed / f"seed-{name}").write_bytes(head + offsets.tobytes() + data.tobytes())
            bad = data.copy()
            bad[5] = np.nan
            (packed / f"seed-{name}-nan").write_bytes(head + offsets.tobytes() + bad.tobytes())
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
