"""A sharded index (spec/distributed.md): shards assigned by a stable hash of the document id,
one codec shared by every shard, searched by fanning out to every shard (Ray actors, or shards
in this process) with the global budgets of one index, so that the answer does not depend on the
number of shards. Ray is optional (``pip install "lateint-ref[ray]"``) and imported only when a
Ray mode is asked for."""

from lateint_ref.distributed.assign import shard_of
from lateint_ref.distributed.errors import ShardUnavailableError
from lateint_ref.distributed.sharded import Answer, ShardedIndex

__all__ = ["Answer", "ShardUnavailableError", "ShardedIndex", "shard_of"]
