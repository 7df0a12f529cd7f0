"""Where the shards run (spec/distributed.md R-DIST-6): ``LocalPool`` holds the shard workers in
this process, ``RayPool`` one Ray actor per shard. Both answer the same calls, so the
coordinator has one code path: ``call`` (a method of each given shard, in parallel); ``run_tasks``
runs the build's independent tasks here or on Ray. Ray is imported only by ``RayPool``."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lateint_ref.distributed.shard import Shard
from lateint_ref.errors import InputError


class Missing:
    """A shard that did not answer a call (R-DIST-5): why, in words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Missing({self.reason!r})"


class LocalPool:
    """Every shard's worker in this process: the calls of one fan-out run on threads, one per
    shard (the native searches release the GIL)."""

    def __init__(self, shards: Sequence[tuple[str, int, str]]) -> None:
        self.workers = [Shard(*s) for s in shards]
        self.threads = ThreadPoolExecutor(max_workers=max(1, len(shards)))

    def call(
        self, calls: dict[int, tuple[str, tuple[Any, ...]]], timeout: float | None
    ) -> dict[int, Any]:
        if len(calls) == 1:
            ((s, (name, args)),) = calls.items()
            return {s: getattr(self.workers[s], name)(*args)}
        futures = {
            s: self.threads.submit(getattr(self.workers[s], name), *args)
            for s, (name, args) in calls.items()
        }
        return {s: f.result() for s, f in futures.items()}

    def restart(self, s: int) -> None:
        """Reopens shard ``s``'s last commit, as a restarted actor does (R-DIST-7)."""
        w = self.workers[s]
        self.workers[s] = Shard(w.root, w.s, w.codec_sha256)

    def wait_ready(self, timeout: float) -> list[int]:
        return []

    def close(self) -> None:
        self.threads.shutdown()
        self.workers = []


def ray_module(address: str | None) -> Any:
    """The ``ray`` module, connected: to the running session when this process has one, else
    ``ray.init(address=address)`` (``"auto"``: the cluster of this machine). Ray is an optional
    dependency: ``pip install "lateint-ref[ray]"``."""
    try:
        ray = importlib.import_module("ray")
    except ImportError as exc:
        raise InputError(
            'R-DIST-6: Ray is not installed: pip install "lateint-ref[ray]", or use ray="local"'
        ) from exc
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    return ray


class RayPool:
    """One Ray actor per shard, restarted by Ray when it dies (R-DIST-7); a call that fails
    because its actor died, is restarting or passed ``timeout`` is ``Missing``."""

    def __init__(self, shards: Sequence[tuple[str, int, str]], address: str | None) -> None:
        ray = ray_module(address)
        self.ray = ray
        # num_cpus=0: an actor holds no CPU while idle, so any number of shards fits a cluster.
        actor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)(Shard)
        self.actors = [actor.remote(*s) for s in shards]
        self.unavailable: tuple[type[BaseException], ...] = (
            ray.exceptions.RayActorError,
            ray.exceptions.GetTimeoutError,
            ray.exceptions.ActorUnavailableError,
        )

    def call(
        self, calls: dict[int, tuple[str, tuple[Any, ...]]], timeout: float | None
    ) -> dict[int, Any]:
        refs = {s: getattr(self.actors[s], name).remote(*args) for s, (name, args) in calls.items()}
        out: dict[int, Any] = {}
        # One deadline for the stage (R-DIST-5: seconds per stage), not `timeout` per shard.
        deadline = None if timeout is None else time.monotonic() + timeout
        for s, ref in refs.items():
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                out[s] = self.ray.get(ref, timeout=left)
            except self.unavailable as exc:
                out[s] = Missing(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
            except self.ray.exceptions.RayTaskError as exc:
                raise exc.as_instanceof_cause() from None
        return out

    def actor(self, s: int) -> Any:
        """Shard ``s``'s actor handle (``ray.kill(handle, no_restart=False)`` kills it)."""
        return self.actors[s]

    def restart(self, s: int) -> None:
        """Kills shard ``s``'s actor; Ray starts it again, reopening the last commit."""
        self.ray.kill(self.actors[s], no_restart=False)

    def wait_ready(self, timeout: float) -> list[int]:
        """Waits until every actor answers (after a restart) or ``timeout`` seconds have passed;
        returns the shards that still do not answer."""
        deadline = time.monotonic() + timeout
        waiting = list(range(len(self.actors)))
        while waiting:
            left = deadline - time.monotonic()
            found = self.call({s: ("info", ()) for s in waiting}, max(left, 0.01))
            waiting = [s for s, v in found.items() if isinstance(v, Missing)]
            if waiting and time.monotonic() >= deadline:
                break
            if waiting:
                time.sleep(0.05)
        return waiting

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a, no_restart=True)
        self.actors = []


def run_tasks(
    address: str | None, fn: Callable[..., Any], args: list[tuple[Any, ...]]
) -> list[Any]:
    """``fn(*a)`` for each ``a`` of ``args``: here (``address`` None or ``"local"``) or as one
    Ray task each (R-DIST-6), large arguments placed in the object store."""
    if address is None or address == "local":
        return [fn(*a) for a in args]
    ray = ray_module(address)
    task = ray.remote(fn)
    refs = [task.remote(*[ray.put(x) if _large(x) else x for x in a]) for a in args]
    try:
        return list(ray.get(refs))
    except ray.exceptions.RayTaskError as exc:
        raise exc.as_instanceof_cause() from None


def _large(x: Any) -> bool:
    """Whether an argument is worth placing in the object store once rather than inlined."""
    return (isinstance(x, (list, tuple)) and len(x) > 16) or hasattr(x, "nbytes")
