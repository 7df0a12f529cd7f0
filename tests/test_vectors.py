"""The implementation against spec/vectors/maxsim.json (generated from the float64 oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import decode, load_vectors

import lateint_ref as li

VECTORS = load_vectors()
GROUPS = {g["name"]: g for g in VECTORS["groups"]}


def _cases(*names: str, key: str | None = None) -> list:
    """The cases of the named groups (only those holding ``key`` when given)."""
    return [
        # An invalid case checks the requirement it must cite.
        pytest.param(
            GROUPS[n],
            c,
            id=f"{n}/{c['id']}",
            marks=[pytest.mark.spec(c["error"])] if "error" in c else [],
        )
        for n in names
        for c in GROUPS[n]["cases"]
        if key is None or key in c
    ]


def _inputs(case: dict) -> tuple[list[np.ndarray], list[np.ndarray]]:
    dtype = case.get("dtype", "float32")
    mats = [m for m in case["queries"] + case["documents"] if m]
    dim = len(mats[0][0]) if mats else 1
    return (
        [decode(q, dtype, dim) for q in case["queries"]],
        [decode(d, dtype, dim) for d in case["documents"]],
    )


def test_vector_file_header() -> None:
    assert VECTORS["schema"] == "lateint-ref/maxsim-vectors/v1"
    assert "do not edit" in VECTORS["_comment"]
    assert set(GROUPS) >= {"exact_small_integers", "random_unit", "negative_similarity", "invalid"}


@pytest.mark.spec("R-MAXSIM-1", "R-MAXSIM-10", "R-MAXSIM-12")
@pytest.mark.parametrize(
    ("group", "case"),
    _cases("exact_small_integers", "random_unit", "boundary", "negative_similarity", "search"),
)
def test_scores_within_bound(group: dict, case: dict) -> None:
    """R-MAXSIM-1, R-MAXSIM-10: every score within the stated bound of the float64 oracle."""
    queries, documents = _inputs(case)
    got = li.maxsim(queries, documents).astype(np.float64)
    want, bound = np.array(case["scores"]), np.array(case["bound"])
    assert got.shape == want.shape
    assert (np.abs(got - want) <= bound).all(), np.abs(got - want) - bound
    # R-MAXSIM-12: the pairwise form gives the same bits as the matrix.
    pairs = li.maxsim_pairwise([queries[0]] * len(documents), documents)
    np.testing.assert_array_equal(pairs, got[0])


@pytest.mark.spec("R-MAXSIM-1")
@pytest.mark.parametrize(("group", "case"), _cases("negative_similarity"))
def test_negative_similarity_differs_from_zero_padding(group: dict, case: dict) -> None:
    """R-MAXSIM-1: padding never competes; here zero padding would give another answer."""
    queries, documents = _inputs(case)
    got = li.maxsim(queries, documents).astype(np.float64)
    padded = np.array(case["zero_padded_scores"])
    assert (got < 0).all()
    differs = np.abs(got - padded) > np.array(case["bound"])
    assert differs.sum() >= len(documents) - 1  # all but the longest document differ


@pytest.mark.spec("R-MAXSIM-11")
@pytest.mark.parametrize(("group", "case"), _cases("bfloat16"))
def test_bfloat16_within_bound(group: dict, case: dict) -> None:
    """R-MAXSIM-11: bfloat16 storage within its bound of the unrounded oracle."""
    queries, documents = _inputs(case)
    got = li.maxsim(queries, li.Documents(documents, storage="bfloat16")).astype(np.float64)
    want, bound = np.array(case["scores"]), np.array(case["bound"])
    assert (np.abs(got - want) <= bound).all()
    rounded = np.array(case["scores_of_rounded_inputs"])
    assert (np.abs(got - rounded) <= bound).all()


@pytest.mark.spec("R-SEARCH-1", "R-SEARCH-3")
@pytest.mark.parametrize(("group", "case"), _cases("search", "exact_small_integers", key="k"))
def test_search_indices(group: dict, case: dict) -> None:
    """R-SEARCH-1, R-SEARCH-3: top indices match the oracle exactly, ties to the lower index."""
    queries, documents = _inputs(case)
    scores, indices = li.search_exact(queries, documents, k=case["k"])
    np.testing.assert_array_equal(indices, np.array(case["top_indices"]))
    full = li.maxsim(queries, documents)
    np.testing.assert_array_equal(scores, np.take_along_axis(full, indices, axis=1))


def _invalid_call(case: dict) -> None:
    dtype = case.get("dtype", "float32")
    queries, documents = _inputs(case)
    if "packed_offsets" in case:
        documents = (decode(case["packed_vectors"], dtype), np.array(case["packed_offsets"]))
    if "storage" in case:
        documents = li.Documents(documents, storage=case["storage"])
    call = case.get("call", "maxsim")
    if call == "search_exact":
        li.search_exact(queries, documents, k=case["k"], threads=case.get("threads"))
    else:
        getattr(li, call)(queries, documents, threads=case.get("threads"))


@pytest.mark.parametrize(("group", "case"), _cases("invalid"))
def test_invalid_inputs_raise_input_error(group: dict, case: dict) -> None:
    """Each invalid case raises InputError (a ValueError) citing its requirement."""
    with pytest.raises(li.InputError, match=case["error"] + ":") as info:
        _invalid_call(case)
    assert isinstance(info.value, ValueError)
