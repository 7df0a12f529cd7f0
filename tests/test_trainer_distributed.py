"""``fit`` in several processes (spec/trainer.md R-FIT-12, R-FIT-13) and ``lateint train`` under
``torchrun`` (spec/cli.md R-CLI-14), on the tiny seeded BERT with two CPU processes (gloo): each
launch runs this file as a script in two processes that initialise the process group themselves
(``env://``), or runs ``torchrun -m lateint_ref train``. Two processes train as one process given
the whole batch (losses and weights within float32 rounding), only process 0 writes, and a run
killed by SIGKILL after a checkpoint and resumed under torchrun reaches the weights of the run
never stopped, bit for bit."""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
import torch.distributed as dist

from lateint_ref import training
from lateint_ref.errors import InputError, LateIntError
from lateint_ref.training import board
from lateint_ref.training.data import read_distillation, read_triplets
from lateint_ref.training.parallel import Group, launched
from lateint_ref.training.trainer import FitResult, fit

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "spec" / "vectors" / "encoder" / "tiny-bert"
WORLD = 2
TIMEOUT = 120  # seconds for one launch: a hang fails the test instead of blocking the suite
# Float32 rounding: the processes sum in another order and pad documents to other widths.
# Measured on this data: losses within 1e-7 relative; after 3 AdamW steps each tensor's update
# (trained minus initial weights) within 4.5e-6 of that of one process, or one float32 ulp of
# the weights. The attention key biases are left out: their true gradient is 0 (a key bias adds
# the same amount to every score of a query), so they hold rounding noise, which AdamW's first
# steps turn into updates of about lr in size and of any sign (measured: as large as the update).
REL = 1e-5
NOISE = "attention.self.key.bias"
TOPICS = ["cats", "dogs", "rust", "tea", "bread", "ocean", "jazz", "chess"]
# 12 triplets in batches of 4: 3 steps an epoch, 2 queries per process.
TRIPLETS = [
    {"query": f"{t} {j}", "positive": f"a page about {t}", "negative": f"a page about {n}"}
    for i, t in enumerate(TOPICS[:6])
    for j, n in enumerate((TOPICS[(i + 1) % 8], TOPICS[(i + 3) % 8]))
]
CORPUS = {f"d{i}": f"a page about {t}" for i, t in enumerate(TOPICS)}
QUERIES = {f"q{i}": t for i, t in enumerate(TOPICS)}
# 8 distillation examples in batches of 3 (3, 3, 2): uneven shards of 2 and 1, then 1 and 1.
DISTILLED = [
    {"query_id": f"q{i}", "document_ids": [f"d{i}", f"d{(i + 1) % 8}"], "scores": [3.0, 0.5]}
    for i in range(8)
]
SETTINGS: dict[str, Any] = {"batch_size": 4, "lr": 1e-3, "warmup": 1, "seed": 3}
# 2 epochs of 3 steps, a checkpoint every 2 steps; the killed run stops after checkpoint-4.
RESUME: dict[str, Any] = {**SETTINGS, "epochs": 2, "checkpoint_every": 2}
KILL_AT = "checkpoint-4"
CASES = ("contrastive", "cached", "distillation")  # the runs compared with one process

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available in this torch build",
)


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _write_data(folder: Path) -> None:
    _jsonl(folder / "triplets.jsonl", TRIPLETS)
    _jsonl(folder / "distil.jsonl", DISTILLED)
    beir = folder / "beir"
    (beir / "qrels").mkdir(parents=True)
    for where in (folder, beir):
        _jsonl(where / "corpus.jsonl", [{"_id": k, "text": v} for k, v in CORPUS.items()])
        _jsonl(where / "queries.jsonl", [{"_id": k, "text": v} for k, v in QUERIES.items()])
    (beir / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(8))
    )


def _model() -> training.ColBERT:
    """The tiny BERT without dropout: each process draws its own dropout masks (R-FIT-3 seeds
    by rank), so N processes equal one process only when no mask is drawn."""
    return training.ColBERT.from_pretrained(MODEL, dropout=0.0)


def _case(name: str, folder: Path) -> tuple[Any, Any, dict[str, Any]]:
    """(loss, data, fit's keyword arguments) of one run."""
    if name == "distillation":
        data = read_distillation(
            folder / "distil.jsonl",
            queries=folder / "queries.jsonl",
            corpus=folder / "corpus.jsonl",
        )
        return training.Distillation(), data, {**SETTINGS, "batch_size": 3}
    triplets = read_triplets(folder / "triplets.jsonl")
    if name == "cached":  # GradCache: the cached embedding gradients scaled by the process's share
        cached = training.CachedContrastive(mini_batch_size=1, gather_across_devices=True)
        return cached, triplets, dict(SETTINGS)
    loss = training.Contrastive(gather_across_devices=True)
    if name == "contrastive":
        return loss, triplets, dict(SETTINGS)
    # "whole" (the run never stopped) or "killed": what `lateint train` below runs.
    return loss, triplets, {**RESUME, "output_dir": folder / name, "dev": folder / "beir"}


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _plain(result: FitResult) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(result).items()}


# ----------------------------------------------------------------------------- the processes


class _FakeWriter:
    """A SummaryWriter that records its scalars (R-FIT-14), to see which process writes them."""

    calls: ClassVar[list[tuple[str, float, int]]] = []

    def __init__(self, log_dir: str, purge_step: int) -> None:
        self.log_dir = log_dir

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.calls.append((tag, value, step))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _audit_writes(under: Path, seen: list[str]) -> None:
    """Records every file-system change under ``under`` that this process makes."""
    prefix = str(under)
    changes = ("os.mkdir", "os.rename", "os.remove", "os.rmdir", "shutil.rmtree", "os.truncate")
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & write_flags
            )
        elif event in changes:
            path, writes = args[0], True
        else:
            return
        if writes and isinstance(path, (str, os.PathLike)) and os.fspath(path).startswith(prefix):
            seen.append(f"{event} {os.fspath(path)}")

    sys.addaudithook(hook)


def _worker(mode: str, folder: Path) -> None:
    """One process of a launch: ``equal`` (the runs compared with one process, the refusals,
    the run never stopped) or ``kill`` (stopped by the test after ``KILL_AT``)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))  # env://
    rank = dist.get_rank()
    out: dict[str, Any] = {}
    try:
        if mode == "kill":

            def hook(path: Path) -> None:
                print("CHECKPOINT", path.name, flush=True)
                if path.name == KILL_AT:
                    time.sleep(TIMEOUT)

            loss, data, kwargs = _case("killed", folder)
            fit(_model(), loss, data, on_checkpoint=hook, **kwargs)
            return
        for name in CASES:
            model = _model()
            loss, data, kwargs = _case(name, folder)
            result = fit(model, loss, data, **kwargs)
            out[name] = {"result": _plain(result), "weights": _weights(model)}
        errors = []
        loss, data, kwargs = _case("contrastive", folder)
        (folder / "a-file").write_text("")  # process 0 fails to make its output_dir
        output_dir = folder / ("a-file" if rank == 0 else "elsewhere")
        for bad in ({"batch_size": 1}, {"lr": 1e-3 * (1 + rank)}, {"output_dir": output_dir}):
            try:
                fit(_model(), loss, data, **{**kwargs, **bad})
            except (LateIntError, OSError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
        out["errors"] = errors
        writes: list[str] = []
        _audit_writes(folder / "whole", writes)
        board._summary_writer = lambda: _FakeWriter  # type: ignore[assignment]
        model = _model()
        loss, data, kwargs = _case("whole", folder)
        out["whole"] = {"result": _plain(fit(model, loss, data, **kwargs))}
        out["whole"].update(weights=_weights(model), writes=writes, board=_FakeWriter.calls)
        torch.save(out, folder / f"{mode}-rank{rank}.pt")
    finally:
        dist.destroy_process_group()


# ----------------------------------------------------------------------------- launches


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _start(mode: str, folder: Path) -> list[subprocess.Popen[str]]:
    port = str(_free_port())
    procs = []
    for rank in range(WORLD):
        env = {**_env(), "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(WORLD)}
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        with (folder / f"{mode}-rank{rank}.err").open("w") as err:
            procs.append(
                subprocess.Popen(
                    [sys.executable, __file__, mode, str(folder)],
                    stdout=subprocess.PIPE if rank == 0 else subprocess.DEVNULL,
                    stderr=err,
                    text=True,
                    env=env,
                )
            )
    return procs


def _errors(mode: str, folder: Path) -> str:
    return "\n".join((folder / f"{mode}-rank{r}.err").read_text()[-3000:] for r in range(WORLD))


def _wait_equal(procs: list[subprocess.Popen[str]], folder: Path) -> None:
    try:
        for p in procs:
            p.communicate(timeout=TIMEOUT)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert [p.returncode for p in procs] == [0, 0], _errors("equal", folder)


def _launch_killed(folder: Path) -> list[str]:
    """The ``kill`` launch, SIGKILLed (both processes) once process 0 reports ``KILL_AT``."""
    procs = _start("kill", folder)
    watchdog = threading.Timer(TIMEOUT, lambda: [p.kill() for p in procs])
    watchdog.start()
    seen = []
    try:
        assert procs[0].stdout is not None
        for line in procs[0].stdout:
            seen.append(line.split()[1])
            if seen[-1] == KILL_AT:
                break
    finally:
        watchdog.cancel()
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait()
        assert procs[0].stdout is not None
        procs[0].stdout.close()
    assert [p.returncode for p in procs] == [-signal.SIGKILL] * WORLD, _errors("kill", folder)
    return seen


def _torchrun_train(folder: Path) -> subprocess.CompletedProcess[str]:
    """``torchrun --standalone --nproc-per-node 2 -m lateint_ref train`` with the settings of
    ``_case("killed")``, into the killed run's folder: it resumes (R-CLI-14)."""
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    argv += ["--nproc-per-node", str(WORLD), "-m", "lateint_ref", "train", "--json"]
    argv += ["--model", str(MODEL), "--triplets", str(folder / "triplets.jsonl")]
    argv += ["--output", str(folder / "killed"), "--dev", str(folder / "beir")]
    argv += ["--batch-size", "4", "--lr", "0.001", "--warmup", "1", "--seed", "3"]
    argv += ["--epochs", "2", "--checkpoint-every", "2", "--dropout", "0"]  # as _model()
    return subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=TIMEOUT)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("fit-ddp")
    _write_data(folder)
    equal = _start("equal", folder)  # the two launches run side by side
    try:
        seen = _launch_killed(folder)
    finally:
        _wait_equal(equal, folder)
    resumed = _torchrun_train(folder)
    return {
        "folder": folder,
        "ranks": [torch.load(folder / f"equal-rank{r}.pt") for r in range(WORLD)],
        "seen": seen,
        "resumed": resumed,
    }


# ----------------------------------------------------------------------------- tests


@pytest.mark.spec("R-FIT-12")
@pytest.mark.slow  # the launches take about 30 s of two cores
@pytest.mark.parametrize("name", CASES)
def test_two_processes_train_as_one_with_the_whole_batch(runs: dict[str, Any], name: str) -> None:
    """R-FIT-12: two processes, each with its shard of every global batch (even shards for
    Contrastive and CachedContrastive with gathered documents, uneven ones for Distillation),
    give the losses and the weights of one process given the whole batches, within float32
    rounding; both processes hold the same weights and the same FitResult, bit for bit."""
    torch.set_num_threads(1)
    model = _model()
    loss, data, kwargs = _case(name, runs["folder"])
    want = fit(model, loss, data, **kwargs)
    weights = _weights(model)
    ranks = [r[name] for r in runs["ranks"]]
    got = ranks[0]["result"]
    assert got["steps"] == want.steps == 3
    assert len(got["losses"]) == 3
    for g, w in zip(got["losses"], want.losses, strict=True):
        assert abs(g - w) <= REL * abs(w), (got["losses"], want.losses)
    assert got["history"][0]["loss"] == pytest.approx(want.history[0]["loss"], rel=REL)
    before = _weights(_model())
    kept = [k for k in weights if not k.endswith(NOISE)]
    assert len(kept) == len(weights) - 2  # the tiny BERT's two layers
    for k in kept:  # each tensor's update within REL of one process's, plus the rounding of
        # the stored float32 weights (one ulp each)
        moved = float((weights[k].double() - before[k].double()).norm())
        error = float((ranks[0]["weights"][k].double() - weights[k].double()).norm())
        ulp = float(np.linalg.norm(np.spacing(weights[k].numpy()).astype(np.float64)))
        assert error <= REL * moved + ulp, (k, error, moved, ulp)
    assert ranks[1]["result"] == got
    for k, w in ranks[0]["weights"].items():
        assert torch.equal(ranks[1]["weights"][k], w), k


@pytest.mark.spec("R-FIT-13")
@pytest.mark.slow
def test_only_process_zero_writes(runs: dict[str, Any]) -> None:
    """R-FIT-13: process 0 alone writes the checkpoints, log, best/, final/ and TensorBoard
    scalars; every process returns the same FitResult (timings included) and weights."""
    zero, one = (r["whole"] for r in runs["ranks"])
    assert zero["writes"]
    assert any("checkpoint-2" in w for w in zero["writes"])
    assert any("log.jsonl" in w for w in zero["writes"])
    assert one["writes"] == []
    steps = [c for c in zero["board"] if c[0] == board.STEP_LOSS]
    assert [s for _, _, s in steps] == [1, 2, 3, 4, 5, 6]
    assert tuple(v for _, v, _ in steps) == zero["result"]["losses"]
    assert one["board"] == []
    assert one["result"] == zero["result"]
    assert [r["epoch"] for r in zero["result"]["history"]] == [0, 1, 2]
    out = runs["folder"] / "whole"
    assert sorted(p.name for p in out.iterdir()) == [
        "best",
        "checkpoint-2",
        "checkpoint-4",
        "checkpoint-6",
        "final",
        "log.jsonl",
    ]
    for k, w in one["weights"].items():
        assert torch.equal(zero["weights"][k], w), k


@pytest.mark.spec("R-FIT-12", "R-FIT-13")
@pytest.mark.slow
def test_processes_refuse_together_before_step_one(runs: dict[str, Any]) -> None:
    """R-FIT-12: a batch that leaves a process without an example, and processes given other
    arguments, are refused with InputError on every process before step one. R-FIT-13: when
    process 0 fails to write, every other process raises too instead of waiting."""
    for r in runs["ranks"]:
        assert len(r["errors"]) == 3
        assert r["errors"][0].startswith("InputError: R-FIT-12: batch_size 1 < 2 processes")
        assert r["errors"][1].startswith(
            "InputError: R-FIT-12: every process must be given the same arguments and data: "
            "processes [1]"
        )
    assert runs["ranks"][0]["errors"][2].startswith("FileExistsError: ")
    assert runs["ranks"][1]["errors"][2] == (
        "LateIntError: R-FIT-13: process 0 failed (its error is on its stderr); process 1 stops "
        "with it"
    )


@pytest.mark.spec("R-CLI-14", "R-FIT-6", "R-FIT-13")
@pytest.mark.slow
def test_killed_run_resumed_under_torchrun_is_exact(runs: dict[str, Any]) -> None:
    """R-FIT-6, R-FIT-13, R-CLI-14: two processes SIGKILLed after checkpoint-4 are resumed by
    ``torchrun -m lateint_ref train``: the final weights and the log equal, bit for bit, those
    of the two-process run never stopped; process 0 alone prints the summary."""
    assert runs["seen"] == ["checkpoint-2", KILL_AT]
    folder = runs["folder"]
    resumed = runs["resumed"]
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads(resumed.stdout)  # one JSON document: process 1 printed nothing
    assert summary["resumed_from"] == str(folder / "killed" / KILL_AT)
    assert summary["steps"] == 6
    whole = runs["ranks"][0]["whole"]
    assert summary["loss"] == whole["result"]["history"][-1]["loss"]
    got = training.ColBERT.from_pretrained(folder / "killed" / "final").state_dict()
    want = training.ColBERT.from_pretrained(folder / "whole" / "final").state_dict()
    assert got.keys() == want.keys()
    for k, w in want.items():
        assert torch.equal(got[k], w), k
    for k, w in whole["weights"].items():
        assert torch.equal(got[k], w), k

    def strip(path: Path) -> list[dict[str, Any]]:
        rows = [json.loads(x) for x in path.read_text().splitlines()]
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert strip(folder / "killed" / "log.jsonl") == strip(folder / "whole" / "log.jsonl")


@pytest.mark.spec("R-FIT-6", "R-FIT-13")
@pytest.mark.slow
def test_resume_in_another_number_of_processes_is_refused(runs: dict[str, Any]) -> None:
    """R-FIT-6, R-FIT-13: the number of processes is one of the checkpoint's settings: one
    process does not resume the checkpoint of two."""
    loss, data, kwargs = _case("whole", runs["folder"])
    with pytest.raises(InputError, match=r"R-FIT-6: .*world_size 2 != 1"):
        fit(_model(), loss, data, **kwargs)


@pytest.mark.spec("R-FIT-12")
def test_shards_and_batches_that_leave_a_process_empty() -> None:
    """R-FIT-12: contiguous shards, the first ``B mod W`` processes one example more; a batch
    size below the number of processes, or a short last batch, is refused."""
    cpu = torch.device("cpu")
    batch = [7, 3, 9, 1, 4]
    assert [Group(r, 2, cpu).shard(batch) for r in range(2)] == [[7, 3, 9], [1, 4]]
    assert [Group(r, 3, cpu).shard(batch) for r in range(3)] == [[7, 3], [9, 1], [4]]
    assert Group(0, 1, cpu).shard(batch) == batch
    assert Group(1, 2, cpu).weight(False, 2, 5) == 2 / 5
    assert Group(1, 2, cpu).weight(True, 2, 5) == 1 / 2
    Group(0, 2, cpu).check_batches(12, 4, drop_last=False)
    Group(0, 2, cpu).check_batches(13, 4, drop_last=True)
    Group(0, 2, cpu).check_batches(14, 4, drop_last=False)  # a last batch of 2
    with pytest.raises(InputError, match="R-FIT-12: batch_size 2 < 3 processes"):
        Group(0, 3, cpu).check_batches(12, 2, drop_last=False)
    with pytest.raises(InputError, match="R-FIT-12: the last batch of each epoch holds 1 "):
        Group(0, 2, cpu).check_batches(13, 4, drop_last=False)


@pytest.mark.spec("R-CLI-14")
def test_launch_environment_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """R-CLI-14: without WORLD_SIZE (or with 1) nothing is initialised; a launch of several
    processes without RANK, MASTER_ADDR or MASTER_PORT is an InputError, not a hang."""
    cpu = torch.device("cpu")
    for key in ("WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    with launched(cpu) as group:
        assert (group.rank, group.world) == (0, 1)
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    with launched(cpu) as group:
        assert not dist.is_initialized()
    monkeypatch.setenv("WORLD_SIZE", "2")
    with (
        pytest.raises(InputError, match=r"R-CLI-14: .*missing: \['MASTER_ADDR', 'MASTER_PORT'\]"),
        launched(cpu),
    ):
        pass
    monkeypatch.setenv("RANK", "x")
    with (
        pytest.raises(InputError, match="R-CLI-14: WORLD_SIZE '2' and RANK 'x' must be"),
        launched(cpu),
    ):
        pass
    assert not dist.is_initialized()


if __name__ == "__main__":
    _worker(sys.argv[1], Path(sys.argv[2]))
