"""The error of a sharded search whose shards did not all answer (spec/distributed.md R-DIST-5)."""

from __future__ import annotations

from lateint_ref.errors import LateIntError


class ShardUnavailableError(LateIntError):
    """A shard did not answer: its actor died, was restarting, or passed the call's ``timeout``
    (R-DIST-5). ``shards`` names them (numbers from 0); the same call may succeed once they are
    back (``ShardedIndex.wait_ready``). Not a ``ValueError``: the arguments were fine."""

    def __init__(self, message: str, shards: list[int]) -> None:
        super().__init__(message)
        self.shards = shards
