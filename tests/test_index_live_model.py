"""The live index against a model: sequences of add, upsert, delete, compact and reopen applied
to an index and to a dict of the live documents (R-INDEX-10..12, R-ISEARCH-2, R-ISEARCH-6,
R-ISEARCH-7). After each step the live ids are the dict's, in order, and exhaustive search is
exact MaxSim over the dict's documents."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import lateint_ref as li
from lateint_ref import Index

pytestmark = pytest.mark.spec(
    "R-INDEX-10", "R-INDEX-11", "R-INDEX-12", "R-ISEARCH-2", "R-ISEARCH-6", "R-ISEARCH-7"
)

DIM = 4


def _docs(seed: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((int(rng.integers(1, 5)), DIM)).astype(np.float32) for _ in range(n)
    ]


class LiveIndex(RuleBasedStateMachine):
    """The model: live id -> its decoded vectors, in position order (an upserted id moves to the
    end, as its new document is added last)."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="lateint-live-"))
        self.model: dict[int, np.ndarray] = {}
        self.next_id = 0

    def _record(self, ids: list[int]) -> None:
        """The decoded vectors of the documents just added (the last positions)."""
        n = len(self.index)
        for i, v in zip(ids, self.index.decode(range(n - len(ids), n)), strict=True):
            self.model.pop(i, None)
            self.model[i] = v

    def _new_ids(self, n: int) -> list[int]:
        ids = list(range(self.next_id, self.next_id + n))
        self.next_id += n
        return ids

    @initialize(seed=st.integers(0, 2**16), n=st.integers(1, 8), nbits=st.sampled_from([1, 2]))
    def create(self, seed: int, n: int, nbits: int) -> None:
        ids = self._new_ids(n)
        self.index = Index.create(
            self.folder / "i", _docs(seed, n), ids=ids, nbits=nbits, seed=seed
        )
        self._record(ids)

    @rule(seed=st.integers(0, 2**16), n=st.integers(1, 4))
    def add(self, seed: int, n: int) -> None:
        ids = self._new_ids(n)
        self.index = self.index.add(_docs(seed, n), ids=ids)
        self._record(ids)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), seed=st.integers(0, 2**16), fresh=st.integers(0, 2))
    def upsert(self, data: st.DataObject, seed: int, fresh: int) -> None:
        old = data.draw(
            st.lists(st.sampled_from(list(self.model)), min_size=1, max_size=3, unique=True)
        )
        ids = old + self._new_ids(fresh)
        self.index = self.index.add(_docs(seed, len(ids)), ids=ids, upsert=True)
        self._record(ids)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        gone = data.draw(st.lists(st.sampled_from(list(self.model)), min_size=1, unique=True))
        self.index = self.index.delete(gone)
        for i in gone:
            del self.model[i]

    @precondition(lambda self: self.model)
    @rule()
    def compact(self) -> None:
        self.index = self.index.compact()
        assert self.index.deleted == []

    @rule()
    def reopen(self) -> None:
        self.index = Index.open(self.folder / "i")

    @invariant()
    def matches_the_model(self) -> None:
        index = self.index
        assert index.live_ids == list(self.model)
        assert index.n_live == len(self.model)
        live = [p for p in range(len(index)) if p not in set(index.deleted)]
        for p, v in zip(live, index.decode(live), strict=True):
            np.testing.assert_array_equal(v, self.model[index.ids[p]])
        q = _docs(len(index) + 7, 2)
        k = max(1, len(self.model))
        hits = index.search(q, k=k, exhaustive=True)
        if not self.model:
            assert [h.ids for h in hits] == [[], []]
            return
        ids = list(self.model)
        scores, order = li.search_exact(q, list(self.model.values()), k=k)
        for h, s, o in zip(hits, scores, order, strict=True):
            assert h.ids == [ids[j] for j in o]
            np.testing.assert_array_equal(h.scores, s)
        for h in index.search(q, k=3, nprobe=1, candidates=2, rescore=2):
            assert set(h.ids) <= set(ids)
        allow = ids[::2]
        scores, order = li.search_exact(q, [self.model[i] for i in allow], k=2)
        for h, s, o in zip(index.search(q, k=2, allow=allow), scores, order, strict=True):
            assert h.ids == [allow[j] for j in o]
            np.testing.assert_array_equal(h.scores, s)

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


LiveIndex.TestCase.settings = settings(
    settings(), max_examples=max(10, settings().max_examples // 3), stateful_step_count=15
)
test_live_index_matches_its_model = LiveIndex.TestCase
