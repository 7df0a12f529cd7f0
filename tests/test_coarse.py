"""Coarse-to-fine centroid assignment (R-KMEANS-6): the native rule against the oracle of
``spec/oracle/index.py``, bit for bit (integer outputs), whatever the thread count; the gate by
format version and ``K``; and the training iterations built on it (R-KMEANS-3).

The oracle's dot products are the f32 FMA chain through ``li.maxsim`` (as in test_index.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import index as index_oracle

import lateint_ref as li
from lateint_ref import _native


def dots(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``[n, K] f32``: ``<x_i, c_k>`` as the FMA chain of R-MAXSIM-10."""
    return li.maxsim(np.ascontiguousarray(x[:, None, :]), [row[None, :] for row in c])


def _case(seed: int, n: int, k: int, dim: int, shape: str) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(points [n, dim], centroids [k, dim])`` f32 of one of a few shapes."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((k, dim))
    x = rng.standard_normal((n, dim))
    if shape == "duplicates":  # fewer distinct centroids than groups; points equal to centroids
        c = c[rng.integers(0, max(1, k // 20), k)]
        x[: n // 2] = c[rng.integers(0, k, n // 2)]
    elif shape == "ties":  # small integers: many equal products
        c, x = np.round(2 * c), np.round(2 * x)
    elif shape == "zeros":
        c[rng.integers(0, k, max(1, k // 4))] = 0
    return np.ascontiguousarray(x, np.float32), np.ascontiguousarray(c, np.float32)


@pytest.mark.spec("R-KMEANS-6")
@settings(max_examples=max(10, settings().max_examples // 2))
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 120),
    st.integers(1, 150),
    st.integers(1, 12),
    st.sampled_from(["normal", "duplicates", "ties", "zeros"]),
    st.data(),
)
def test_coarse_rule_follows_the_oracle(
    seed: int, n: int, k: int, dim: int, shape: str, data: st.DataObject
) -> None:
    """R-KMEANS-6: groups (spherical k-means over the centroids) and each point's centroid (the
    best member of its P best groups) equal the oracle's, for every G, P and instruction set,
    with 1 thread or all."""
    x, c = _case(seed, n, k, dim, shape)
    g = data.draw(st.integers(1, k + 2), label="n_groups")
    p = data.draw(st.integers(1, 20), label="probe")
    want, want_of = index_oracle.assign_coarse(x, c, dots, g, p)
    for isa in _native.available_isas():
        for threads in (1, None):
            got, of = _native.assign_centroids(x, c, 4, g, p, threads=threads, isa=isa)
            assert of is not None
            np.testing.assert_array_equal(of, want_of)
            np.testing.assert_array_equal(got, want)


@pytest.mark.spec("R-KMEANS-4", "R-KMEANS-5", "R-KMEANS-6")
@pytest.mark.parametrize("k", [4095, 4096, 4097])
@pytest.mark.parametrize("version", [3, 4])
def test_coarse_from_version_4_and_k_c(k: int, version: int) -> None:
    """R-KMEANS-6, R-KMEANS-4, R-KMEANS-5: the default G = floor(K / 64) and P = 16 apply from
    format version 4 and K >= 4096; below either, the assignment is exact. Same result with 1
    and 2 threads."""
    x, c = _case(k + version, 300, k, 6, "duplicates" if k == 4097 else "normal")
    got, of = _native.assign_centroids(x, c, version)
    coarse = version >= 4 and k >= 4096
    assert index_oracle.coarse(version, k) == coarse
    assert (of is not None) == coarse
    want = index_oracle.assign(x, c, dots, version)
    np.testing.assert_array_equal(got, want)
    if coarse:
        want_x, want_of = index_oracle.assign_coarse(x, c, dots)
        np.testing.assert_array_equal(of, want_of)
        np.testing.assert_array_equal(got, want_x)
        assert of is not None
        assert int(of.max()) < k // 64
    else:
        np.testing.assert_array_equal(got, np.argmax(dots(x, c), axis=1))
    for threads in (1, 2):
        again, _ = _native.assign_centroids(x, c, version, threads=threads)
        np.testing.assert_array_equal(again, got)


@pytest.mark.spec("R-KMEANS-6")
def test_coarse_assignment_is_close_to_exact() -> None:
    """R-KMEANS-6: on clustered points the coarse rule finds the exact centroid for almost every
    point, with a fraction of the products."""
    rng = np.random.default_rng(3)
    k, dim = 4096, 32
    c = rng.standard_normal((k, dim)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    x = c[rng.integers(0, k, 4000)] + 0.1 * rng.standard_normal((4000, dim)).astype(np.float32)
    x = np.ascontiguousarray(x, np.float32)
    exact, _ = _native.assign_centroids(x, c, 3)
    coarse, of = _native.assign_centroids(x, c, 4)
    assert of is not None
    assert np.mean(exact != coarse) < 0.02
