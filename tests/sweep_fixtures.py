"""The tiny inputs of the bad-input sweep (tests/test_bad_input_sweep.py), made on first use in
the child's own folder: small indexes (dim 8), copies of the tiny model folders of
spec/vectors/encoder with one file broken, a tiny retriever, BEIR folders and training files."""

from __future__ import annotations

import functools
import itertools
import json
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

TINY = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder"
TINY_BERT = TINY / "tiny-bert"
TINY_MODERNBERT = TINY / "tiny-modernbert"
DIM = 8

CORPUS = [
    ("d1", "the wing of the aircraft bends under load"),
    ("d2", "heat transfer in a laminar boundary layer"),
    ("d3", "supersonic flow over a thin airfoil"),
    ("d4", "a plain text about nothing in particular"),
]
QUERIES = {"q1": "wing load", "q2": "boundary layer heat"}
QRELS = {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 1}}


def _reseal(blob: bytes) -> bytes:
    """An index file with its header CRC recomputed after a raw edit (R-INDEX-1)."""
    n_fields, n_sections = struct.unpack_from("<II", blob, 16)
    end = 24 + 8 * n_fields + 24 * n_sections
    return blob[:end] + struct.pack("<I", zlib.crc32(blob[:end])) + blob[end + 4 :]


class Fixtures:
    """Everything a case may need, made once per child process under ``tmp``."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self._n = itertools.count()
        rng = np.random.default_rng(0)
        # Five documents of 3 to 7 tokens, dim 8, unit rows.
        self.docs = [rng.standard_normal((n, DIM), dtype=np.float32) for n in (3, 5, 7, 4, 6)]
        self.docs = [d / np.linalg.norm(d, axis=1, keepdims=True) for d in self.docs]
        self.query = rng.standard_normal((4, DIM), dtype=np.float32)

    def path(self, name: str = "x") -> Path:
        """A fresh path (nothing there yet)."""
        return self.tmp / f"{next(self._n)}-{name}"

    def file(self, content: bytes | str, name: str = "f") -> Path:
        """A file holding ``content``."""
        p = self.path(name)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
        return p

    def folder(self, files: dict[str, bytes | str] | None = None, name: str = "d") -> Path:
        """A folder holding ``files`` (relative names)."""
        p = self.path(name)
        p.mkdir(parents=True)
        for rel, content in (files or {}).items():
            (p / rel).parent.mkdir(parents=True, exist_ok=True)
            (p / rel).write_bytes(content.encode() if isinstance(content, str) else content)
        return p

    def unreadable(self, name: str = "f") -> Path:
        """A file whose mode forbids reading (root reads it anyway: such cases are skipped)."""
        p = self.file("secret\n", name)
        p.chmod(0)
        return p

    def missing(self, name: str = "missing") -> Path:
        return self.path(name)

    # ----------------------------------------------------------------------------- indexes

    @functools.cached_property
    def index_dir(self) -> Path:
        from lateint_ref import Index

        p = self.path("index")
        Index.create(p, self.docs, ids=[10, 11, 12, 13, 14], seed=0)
        return p

    def index(self) -> Any:
        """The five-document index (ids 10..14), opened."""
        from lateint_ref import Index

        return Index.open(self.index_dir)

    def index_copy(self) -> Path:
        """A copy of the five-document index, to change."""
        p = self.path("index-copy")
        shutil.copytree(self.index_dir, p)
        return p

    @functools.cached_property
    def str_index_dir(self) -> Path:
        from lateint_ref import Index

        p = self.path("str-index")
        Index.create(p, self.docs[:3], ids=["a", "b", "c"], seed=0)
        return p

    def str_index(self) -> Any:
        from lateint_ref import Index

        return Index.open(self.str_index_dir)

    def newer_index(self, which: str) -> Path:
        """A copy of the index whose ``which`` file ("manifest" or "codec") claims a format
        version this reader does not know (99), every CRC resealed (and the manifest's entry
        of the codec updated)."""
        p = self.index_copy()
        manifest = p / "MANIFEST"
        if which == "manifest":
            blob = bytearray(manifest.read_bytes())
            blob[12:16] = struct.pack("<I", 99)
            manifest.write_bytes(_reseal(bytes(blob)))
            return p
        codec = next(p.glob("codec-*.lti"))
        blob = bytearray(codec.read_bytes())
        old_crc = _header_crc(bytes(blob))
        blob[12:16] = struct.pack("<I", 99)
        new = _reseal(bytes(blob))
        codec.write_bytes(new)
        man = bytearray(manifest.read_bytes())
        at = bytes(man).find(struct.pack("<I", old_crc))  # the entry's header CRC
        assert at > 0, "codec's header CRC not found in the manifest"
        man[at : at + 4] = struct.pack("<I", _header_crc(new))
        manifest.write_bytes(_reseal(_reseal_sections(bytes(man))))
        return p

    # ----------------------------------------------------------------------------- models

    def model_copy(
        self, source: Path = TINY_BERT, edit: Callable[[Path], Any] | None = None
    ) -> Path:
        """A copy of a tiny model folder, then ``edit(folder)``."""
        p = self.path(source.name)
        shutil.copytree(source, p)
        if edit is not None:
            edit(p)
        return p

    @functools.cached_property
    def encoder(self) -> Any:
        from lateint_ref import Encoder

        return Encoder.from_pretrained(TINY_BERT, backend="numpy")

    @functools.cached_property
    def retriever_dir(self) -> Path:
        from lateint_ref import Retriever

        p = self.path("retriever")
        Retriever.build(p, TINY_BERT, CORPUS, backend="numpy")
        return p

    def retriever(self) -> Any:
        from lateint_ref import Retriever

        return Retriever.open(self.retriever_dir, backend="numpy")

    # ----------------------------------------------------------------------------- files

    def beir(self, **replace: bytes | str | None) -> Path:
        """A BEIR folder of the tiny corpus; ``replace`` gives a file other content (None:
        no such file): ``corpus``, ``queries``, ``qrels`` (qrels/test.tsv), ``train``."""
        files: dict[str, bytes | str | None] = {
            "corpus.jsonl": "".join(
                json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in CORPUS
            ),
            "queries.jsonl": "".join(
                json.dumps({"_id": q, "text": t}) + "\n" for q, t in QUERIES.items()
            ),
            "qrels/test.tsv": "query-id\tcorpus-id\tscore\n"
            + "".join(f"{q}\t{d}\t{s}\n" for q, r in QRELS.items() for d, s in r.items()),
            "qrels/train.tsv": "query-id\tcorpus-id\tscore\n"
            + "".join(f"{q}\t{d}\t{s}\n" for q, r in QRELS.items() for d, s in r.items()),
        }
        names = {
            "corpus": "corpus.jsonl",
            "queries": "queries.jsonl",
            "qrels": "qrels/test.tsv",
            "train": "qrels/train.tsv",
        }
        for key, content in replace.items():
            files[names[key]] = content
        return self.folder({k: v for k, v in files.items() if v is not None}, "beir")

    def jsonl(self, rows: list[Any], name: str = "f.jsonl") -> Path:
        """A JSONL file of ``rows`` (a str row is written as is)."""
        text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
        return self.file(text, name)


def _header_crc(blob: bytes) -> int:
    n_fields, n_sections = struct.unpack_from("<II", blob, 16)
    at = 24 + 8 * n_fields + 24 * n_sections
    return int(struct.unpack_from("<I", blob, at)[0])


def _reseal_sections(blob: bytes) -> bytes:
    """The section CRCs of a container recomputed (R-INDEX-1 section table: offset, length,
    CRC-32, zero)."""
    n_fields, n_sections = struct.unpack_from("<II", blob, 16)
    out = bytearray(blob)
    table = 24 + 8 * n_fields
    for i in range(n_sections):
        offset, length = struct.unpack_from("<QQ", blob, table + 24 * i)
        crc = zlib.crc32(blob[offset : offset + length])
        struct.pack_into("<I", out, table + 24 * i + 16, crc)
    return bytes(out)
