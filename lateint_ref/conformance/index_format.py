"""The index-format area: an outside reader or writer of lateint-ref's index folder
(spec/index.md, format of R-INDEX-1 to R-INDEX-5) against spec/conformance/index-v1/.

Reader (``--impl``): ``read(folder) -> (ids, documents)``, the external ids of the stored
documents in position order and their decoded vectors, one ``[n_tokens, dim]`` array each,
tokens in stored order. Checked on the committed index (written by lateint-ref from
``index-v1.json``'s documents and parameters):

- R-INDEX-5: the ids, exactly;
- R-QUANT-4 (and R-ISEARCH-5, the stored order): the decoded vectors, exactly (one float32
  addition per component);
- R-INDEX-1, R-INDEX-2, R-INDEX-3, R-INDEX-4: copies of the index broken one way each (a bad
  magic, a flipped byte of a section, a truncated file, a wrong header CRC, an unknown format
  version with its CRCs mended, a missing file, a wrong length in the manifest) MUST make the
  reader raise (any exception; it must not return).

Writer (``--writer``): ``write(folder, documents, ids, **params)`` writes an index of
``index-v1.json``'s documents (``[n_tokens, dim] float32`` arrays) and integer ids into the
absent ``folder``, with its parameters (``nbits``, ``seed``, ``n_centroids``,
``kmeans_iters``). lateint-ref's reader MUST open it (R-INDEX-2) and find the ids (R-INDEX-5)
and every token (R-INDEX-3, ``n_tokens``); the codec is the writer's choice, so its files are not
compared with the committed ones.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref.conformance import vectors
from lateint_ref.conformance.report import Case, Report

FILE = "index-v1.json"


def _header_length(data: bytes) -> int:
    n_fields, n_sections = struct.unpack_from("<II", data, 16)
    return int(24 + 8 * n_fields + 24 * n_sections)


def _mend_header_crc(data: bytearray) -> None:
    end = _header_length(bytes(data))
    struct.pack_into("<I", data, end, zlib.crc32(bytes(data[:end])))


def _first(folder: Path, prefix: str) -> Path:
    return sorted(p for p in folder.iterdir() if p.name.startswith(prefix))[0]


def _corrupt(kind: str, folder: Path) -> None:
    """Breaks the index copy in ``folder`` one way."""
    if kind == "bad-magic":
        path = folder / "MANIFEST"
        data = bytearray(path.read_bytes())
        data[0] ^= 0x20
    elif kind == "section-byte-flipped":
        path = _first(folder, "segment")
        data = bytearray(path.read_bytes())
        n_fields, n_sections = struct.unpack_from("<II", data, 16)
        sections = [struct.unpack_from("<QQ", data, 24 + 8 * n_fields + 24 * i)
                    for i in range(n_sections)]  # fmt: skip
        offset, length = next((o, n) for o, n in sections if n > 0)
        data[offset + length // 2] ^= 0x01  # inside the first non-empty section
    elif kind == "truncated-segment":
        path = _first(folder, "segment")
        data = bytearray(path.read_bytes()[:-7])
    elif kind == "header-crc":
        path = _first(folder, "codec")
        data = bytearray(path.read_bytes())
        data[_header_length(bytes(data))] ^= 0xFF
    elif kind == "unknown-version":
        path = _first(folder, "codec")
        data = bytearray(path.read_bytes())
        struct.pack_into("<I", data, 12, 99)
        _mend_header_crc(data)
        _mend_manifest(folder, path.name, bytes(data))
    elif kind == "missing-file":
        _first(folder, "segment").unlink()
        return
    elif kind == "manifest-length":
        path = folder / "MANIFEST"
        data = bytearray(path.read_bytes())
        _mend_manifest_entry(data, 0, lambda length, crc: (length + 64, crc))
    else:
        raise ValueError(kind)
    path.write_bytes(bytes(data))


CORRUPTIONS = {
    "bad-magic": "R-INDEX-1",
    "header-crc": "R-INDEX-2",
    "section-byte-flipped": "R-INDEX-2",
    "truncated-segment": "R-INDEX-2",
    "missing-file": "R-INDEX-3",
    "manifest-length": "R-INDEX-3",
    "unknown-version": "R-INDEX-4",
}


def _manifest_entries(data: bytes) -> tuple[int, int]:
    """The offset of the manifest's entries section and the number of entries."""
    n_fields, _ = struct.unpack_from("<II", data, 16)
    n_files = struct.unpack_from("<Q", data, 24 + 8)[0]
    offset = struct.unpack_from("<Q", data, 24 + 8 * n_fields)[0]
    return offset, n_files


def _mend_manifest_entry(
    data: bytearray, entry: int, change: Callable[[int, int], tuple[int, int]]
) -> None:
    """Rewrites one entry's (length, header CRC), then the section and header CRCs."""
    offset, _ = _manifest_entries(bytes(data))
    at = offset + 64 * entry
    length, crc = struct.unpack_from("<QI", data, at + 8)
    struct.pack_into("<QI", data, at + 8, *change(length, crc))
    n_fields, _ = struct.unpack_from("<II", data, 16)
    table = 24 + 8 * n_fields
    sec_offset, sec_length = struct.unpack_from("<QQ", data, table)
    section = bytes(data[sec_offset : sec_offset + sec_length])
    struct.pack_into("<I", data, table + 16, zlib.crc32(section))
    _mend_header_crc(data)


def _mend_manifest(folder: Path, name: str, new: bytes) -> None:
    """Points the manifest at the new header CRC of file ``name`` (its length unchanged)."""
    path = folder / "MANIFEST"
    data = bytearray(path.read_bytes())
    offset, n_files = _manifest_entries(bytes(data))
    crc = struct.unpack_from("<I", new, _header_length(new))[0]
    for i in range(n_files):
        raw = bytes(data[offset + 64 * i + 24 : offset + 64 * i + 64])
        if raw.rstrip(b"\0").decode() == name:
            _mend_manifest_entry(data, i, lambda length, _old: (length, crc))
    path.write_bytes(bytes(data))


def _load(spec: Path) -> tuple[dict[str, Any], Path]:
    data = vectors.load_json(spec / "conformance" / FILE)
    return data, spec / "conformance" / data["folder"]


def check_reader(read: Callable[[str], Any], spec: Path, report: Report) -> None:
    data, folder = _load(spec)
    want_docs = [vectors.matrix(d) for d in data["decoded"]]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "index"
        shutil.copytree(folder, copy)
        try:
            ids, docs = read(str(copy))
            ids, docs = list(ids), [np.asarray(d, dtype=np.float32) for d in docs]
        except Exception as e:
            detail = f"raised {type(e).__name__}: {e}"[:200]
            report.add(Case("R-INDEX-5", "index-v1/ids", False, detail=detail))
            report.add(Case("R-QUANT-4", "index-v1/decoded", False, detail=detail))
        else:
            ok = [int(i) for i in ids] == data["ids"] if len(ids) == len(data["ids"]) else False
            report.add(Case("R-INDEX-5", "index-v1/ids", ok, detail="" if ok else f"{ids[:5]}"))
            for j, want in enumerate(want_docs):
                label = f"index-v1/decoded/{j}"
                got = docs[j] if j < len(docs) else np.zeros((0, want.shape[1]), np.float32)
                if got.shape != want.shape:
                    detail = f"shape {got.shape}, expected {want.shape}"
                    report.add(Case("R-QUANT-4", label, False, detail=detail))
                    continue
                error = float(np.abs(got.astype(np.float64) - want).max())
                report.add(Case("R-QUANT-4", label, error == 0, error, 0.0,
                                "" if error == 0 else "decoded vectors differ"))  # fmt: skip
        for kind, requirement in CORRUPTIONS.items():
            broken = Path(tmp) / kind
            shutil.copytree(folder, broken)
            _corrupt(kind, broken)
            try:
                read(str(broken))
            except Exception as e:
                report.add(Case(requirement, f"index-v1/{kind}", True,
                                detail=f"raised {type(e).__name__}"))  # fmt: skip
            else:
                report.add(Case(requirement, f"index-v1/{kind}", False,
                                detail="returned a result from a broken index"))  # fmt: skip


def check_writer(write: Callable[..., Any], spec: Path, report: Report) -> None:
    import lateint_ref as li

    data, _ = _load(spec)
    docs = [vectors.matrix(d) for d in data["documents"]]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "written"
        try:
            write(str(folder), docs, list(data["ids"]), **data["params"])
            index = li.Index.open(folder)
        except Exception as e:
            detail = f"raised {type(e).__name__}: {e}"[:200]
            report.add(Case("R-INDEX-2", "writer/open", False, detail=detail))
            return
        report.add(Case("R-INDEX-2", "writer/open", True))
        ok = [int(i) for i in index.ids] == data["ids"]
        report.add(Case("R-INDEX-5", "writer/ids", ok, detail="" if ok else f"{index.ids[:5]}"))
        n_tokens = sum(len(d) for d in docs)
        ok = index.n_tokens == n_tokens
        detail = "" if ok else f"{index.n_tokens} tokens, expected {n_tokens}"
        report.add(Case("R-INDEX-3", "writer/n_tokens", ok, detail=detail))


def check(
    read: Callable[[str], Any] | None, write: Callable[..., Any] | None, spec: Path, name: str
) -> Report:
    data, _ = _load(spec)
    report = Report("index-format", name, {data["spec"]: data["spec_version"]})
    if read is not None:
        check_reader(read, spec, report)
    if write is not None:
        check_writer(write, spec, report)
    return report
