"""What a writer reads of the committed index (spec/index.md R-INDEX-16): the manifest, the codec,
the tombstones, and of each earlier segment its header and ids, never its codes, so that an
addition costs what it adds. Readers still check every byte (R-INDEX-2)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from lateint_ref import Index, IndexFormatError, _native
from lateint_ref.index import writer


def _docs(seed: int, n: int, dim: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, dim)).astype(np.float32) for _ in range(n)]


def _flip_section(path: Path, section: int) -> None:
    """Flips the first byte of a segment's section (R-INDEX-1 header)."""
    data = bytearray(path.read_bytes())
    n_fields = struct.unpack_from("<I", data, 16)[0]
    offset, length = struct.unpack_from("<QQ", data, 24 + 8 * n_fields + 24 * section)
    assert length > 0
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# offsets, codes, residuals, lists, bounds, far counts (R-INDEX-18)
@pytest.mark.spec("R-INDEX-16")
@pytest.mark.parametrize("section", [0, 1, 2, 3, 4, 7, 8])
def test_additions_and_deletions_do_not_read_earlier_codes(tmp_path: Path, section: int) -> None:
    """R-INDEX-16: with a byte of an earlier segment's code sections corrupted after its commit,
    add, upsert and delete still commit (they never read those bytes; the writer functions, which
    do not reopen the index), while opening the index to search it, or compacting it (which copies
    the codes), raises IndexFormatError."""
    path = tmp_path / "i"
    index = Index.create(path, _docs(0, 30), seed=1).add(_docs(1, 10))
    first = index.segments()[0][0]
    _flip_section(path / first, section)
    with pytest.raises(IndexFormatError, match=first):
        Index.open(path)
    writer.append(path, _docs(2, 5), [100, 101, 102, 103, 104], index.ids)
    writer.append(path, _docs(3, 2), [0, 100], index.ids, upsert=True)
    assert writer.delete(path, [1, 2]) == 2
    assert _native.committed_generation(str(path)) == index.generation + 3
    with pytest.raises(IndexFormatError, match=first):
        Index.open(path)
    with pytest.raises(IndexFormatError, match=first):
        writer.compact(path)


@pytest.mark.spec("R-INDEX-16")
@pytest.mark.parametrize("section", [5, 6])
def test_writers_check_the_ids_they_read(tmp_path: Path, section: int) -> None:
    """R-INDEX-16: a corrupted ids section of an earlier segment is refused by an addition and a
    deletion (IndexFormatError naming the file), nothing committed."""
    path = tmp_path / "i"
    ids = [f"d{i}" for i in range(30)]  # string ids: both sections hold bytes
    index = Index.create(path, _docs(0, 30), ids=ids, seed=1)
    name = index.segments()[0][0]
    _flip_section(path / name, section)
    with pytest.raises(IndexFormatError, match=name):
        index.add(_docs(1, 2), ids=["x", "y"])
    with pytest.raises(IndexFormatError, match=name):
        index.delete(["d1"])
    assert sorted(p.name for p in path.iterdir()) == sorted(
        ["LOCK", "MANIFEST", *(n for n, _ in index.files()[1:])]
    )


@pytest.mark.spec("R-INDEX-15", "R-INDEX-16")
def test_the_index_an_addition_returns_reuses_the_segments_it_had(tmp_path: Path) -> None:
    """R-INDEX-16, R-INDEX-15: ``add`` and ``refresh`` reopen the index reusing the segments the
    object already checked and mapped: with an earlier segment's file replaced on disk by a
    corrupted copy (a new file, so existing mappings keep the old one), a chain of additions and
    a refresh still work and search, while a fresh ``Index.open`` refuses the corrupted file."""
    path = tmp_path / "i"
    index = Index.create(path, _docs(0, 30), seed=1)
    reader = Index.open(path)
    first = index.segments()[0][0]
    copy = tmp_path / "copy"
    copy.write_bytes((path / first).read_bytes())
    _flip_section(copy, 2)
    copy.replace(path / first)
    for step in range(3):
        index = index.add(_docs(10 + step, 4), ids=[100 + 4 * step + j for j in range(4)])
    assert len(index.segments()) == 4
    assert reader.refresh() is True
    q = np.random.default_rng(1).standard_normal((2, 3, 8)).astype(np.float32)
    for got in (index, reader):
        assert all(len(h.ids) == 5 for h in got.search(q, 5))
        assert all(len(h.ids) == 5 for h in got.search(q, 5, exhaustive=True))
    with pytest.raises(IndexFormatError, match=first):
        Index.open(path)
