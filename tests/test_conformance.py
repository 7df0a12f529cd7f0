"""The conformance kit (``python -m lateint_ref.conformance``, spec/README.md): it passes
lateint-ref itself in every area, fails deliberately wrong implementations with exit status 1
naming the broken requirement, reads the ``--outputs`` layouts it documents, and prints JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lateint_ref.conformance import cli
from lateint_ref.conformance import maxsim as maxsim_area
from lateint_ref.conformance import metrics as metrics_area

ROOT = Path(__file__).resolve().parent.parent
REF = "lateint_ref.conformance.reference"

# Deliberately wrong implementations, loaded by the kit from a file (``file.py:name``).
WRONG = textwrap.dedent(
    '''
    import numpy as np
    import lateint_ref as li
    from lateint_ref import training as ours
    from lateint_ref.conformance import reference


    def off_by_1e3(queries, documents):
        return li.maxsim(queries, documents) + np.float32(1e-3)


    def zero_padded(queries, documents):
        """Documents padded to the longest with zero rows that compete in the max."""
        longest = max(len(d) for d in documents)
        out = np.zeros((len(queries), len(documents)), np.float32)
        for i, q in enumerate(queries):
            for j, d in enumerate(documents):
                sims = q.astype(np.float64) @ d.astype(np.float64).T
                best = sims.max(axis=1)
                if len(d) < longest:
                    best = np.maximum(best, 0.0)
                out[i, j] = best.sum()
        return out


    def half_recall(run, qrels, metrics):
        got = reference.evaluate(run, qrels, metrics)
        return {q: {m: v / 2 if m.startswith("recall") else v for m, v in values.items()}
                for q, values in got.items()}


    class _Cached(ours.CachedContrastive):
        """The right value, gradients batch-size times too large (PyLate 1.6.0's)."""

        def __call__(self, model, *, queries, documents):
            v = super().__call__(model, queries=queries, documents=documents)
            return v + (len(queries) - 1) * (v - v.detach())


    class losses:
        Contrastive = ours.Contrastive
        Distillation = ours.Distillation
        CachedContrastive = _Cached


    def pristine_reader(folder):
        """Reads the committed index whatever folder it is given: never sees a broken file."""
        from lateint_ref.conformance.vectors import DEFAULT_SPEC
        return reference.index_read(str(DEFAULT_SPEC / "conformance" / "index-v1"))


    class _Scaled:
        def __init__(self, model):
            self.model = model

        def encode(self, texts, **kwargs):
            return [x * np.float32(1.001) for x in self.model.encode(texts, **kwargs)]


    def unnormalised_encoder(folder):
        return _Scaled(reference.encoder_numpy(folder))
    '''
)


@pytest.fixture(scope="module")
def wrong(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("wrong") / "wrong.py"
    path.write_text(WRONG)
    return str(path)


def kit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    """Runs the command in-process with ``--json``: (exit status, report)."""
    capsys.readouterr()
    code = cli.main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def failing(report: dict) -> set[str]:
    return {r["requirement"] for r in report["rows"] if r["failed"]}


@pytest.mark.spec("R-MAXSIM-1", "R-MAXSIM-2", "R-MAXSIM-5", "R-MAXSIM-7", "R-MAXSIM-8",
                  "R-MAXSIM-9", "R-MAXSIM-10")  # fmt: skip
def test_maxsim_passes_lateint_ref(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = kit(capsys, "maxsim", "--impl", f"{REF}:maxsim")
    assert code == 0, failing(report)
    assert report["passed"]
    assert report["spec_versions"] == {"spec/maxsim.md": 1}
    rows = {r["requirement"]: r for r in report["rows"]}
    assert rows["R-MAXSIM-10"]["cases"] >= 10
    assert rows["R-MAXSIM-8"]["passed"] == 2  # empty items raise


@pytest.mark.spec("R-MAXSIM-1", "R-MAXSIM-10")
def test_maxsim_fails_scores_off_by_1e3(capsys: pytest.CaptureFixture[str], wrong: str) -> None:
    code, report = kit(capsys, "maxsim", "--impl", f"{wrong}:off_by_1e3")
    assert code == 1
    assert {"R-MAXSIM-1", "R-MAXSIM-10"} <= failing(report)
    row = next(r for r in report["rows"] if r["requirement"] == "R-MAXSIM-10")
    assert row["worst_error"] == pytest.approx(1e-3, rel=0.01)
    assert row["first_failure"]


@pytest.mark.spec("R-MAXSIM-1")
def test_maxsim_fails_padding_that_competes(capsys: pytest.CaptureFixture[str], wrong: str) -> None:
    """Zero padding differs only where every similarity of a query token is negative."""
    code, report = kit(capsys, "maxsim", "--impl", f"{wrong}:zero_padded")
    assert code == 1
    assert "R-MAXSIM-1" in failing(report)
    failed = {c["case"] for c in report["cases"] if c["passed"] is False}
    assert any(c.startswith("negative_similarity/") for c in failed)
    assert not any(c.startswith("exact_small_integers/exact-0") for c in failed)


@pytest.mark.spec("R-MAXSIM-1", "R-MAXSIM-10")
def test_maxsim_outputs_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--export writes the inputs; scores written back in the documented layout pass; a missing
    output fails its case."""
    import lateint_ref as li

    assert cli.main(["maxsim", "--export", str(tmp_path)]) == 0
    stems = json.loads((tmp_path / "cases.json").read_text())["cases"]
    for stem in stems:
        queries, documents = maxsim_area.read_inputs(tmp_path / f"{stem}.npz")
        try:
            np.save(tmp_path / f"{stem}.scores.npy", li.maxsim(queries, documents))
        except ValueError as e:
            (tmp_path / f"{stem}.error").write_text(str(e))
    code, report = kit(capsys, "maxsim", "--outputs", str(tmp_path))
    assert code == 0, failing(report)
    (tmp_path / "random_unit__random-3-q17-d17.scores.npy").unlink()
    code, report = kit(capsys, "maxsim", "--outputs", str(tmp_path))
    assert code == 1
    assert failing(report) == {"R-MAXSIM-10", "R-MAXSIM-2"}


@pytest.mark.spec("R-EVAL-2", "R-EVAL-3", "R-EVAL-4", "R-EVAL-5", "R-EVAL-6", "R-EVAL-7",
                  "R-EVAL-8")  # fmt: skip
def test_metrics_pass_lateint_ref_and_fail_a_wrong_recall(
    capsys: pytest.CaptureFixture[str], wrong: str
) -> None:
    code, report = kit(capsys, "metrics", "--impl", f"{REF}:evaluate")
    assert code == 0, failing(report)
    code, report = kit(capsys, "metrics", "--impl", f"{wrong}:half_recall")
    assert code == 1
    assert "R-EVAL-5" in failing(report)
    assert "R-EVAL-4" not in failing(report)


@pytest.mark.spec("R-EVAL-2", "R-EVAL-4", "R-EVAL-8")
def test_metrics_outputs_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The exported TREC files, evaluated and written as ``trec_eval -q`` lines, pass."""
    from lateint_ref import evaluation

    assert cli.main(["metrics", "--export", str(tmp_path)]) == 0
    for case in json.loads((tmp_path / "cases.json").read_text())["cases"]:
        d = tmp_path / case
        run = evaluation.read_run(d / "run.txt")
        qrels = evaluation.read_qrels(d / "qrels.txt")
        names = (d / "metrics.txt").read_text().split()
        per_query = evaluation.evaluate(run, qrels, names, per_query=True)
        trec = {"ndcg@": "ndcg_cut_", "recall@": "recall_", "map@": "map_cut_"}
        lines = []
        for q, values in per_query.items():
            for m, v in values.items():
                name = next((t + m[len(o) :] for o, t in trec.items() if m.startswith(o)), m)
                lines.append(f"{name}\t{q}\t{v!r}\n")
        (d / "results.txt").write_text("".join(lines))
    code, report = kit(capsys, "metrics", "--outputs", str(tmp_path))
    assert code == 0, failing(report)
    skipped = {c["case"] for c in report["cases"] if c["passed"] is None}
    assert skipped == {"empty-ranking/ndcg@10", "empty-ranking/recall@10"}  # no TREC line
    assert metrics_area.metric_name("map_cut_100") == "map@100"


@pytest.mark.spec("R-INDEX-1", "R-INDEX-2", "R-INDEX-3", "R-INDEX-4", "R-INDEX-5", "R-QUANT-4")
def test_index_format_reader_and_writer(capsys: pytest.CaptureFixture[str], wrong: str) -> None:
    args = ["--impl", f"{REF}:index_read", "--writer", f"{REF}:index_write"]
    code, report = kit(capsys, "index-format", *args)
    assert code == 0, failing(report)
    assert {r["requirement"] for r in report["rows"]} >= {"R-INDEX-2", "R-INDEX-5", "R-QUANT-4"}
    code, report = kit(capsys, "index-format", "--impl", f"{wrong}:pristine_reader")
    assert code == 1
    assert failing(report) == {"R-INDEX-1", "R-INDEX-2", "R-INDEX-3", "R-INDEX-4"}


@pytest.mark.spec("R-TRAIN-5", "R-TRAIN-6", "R-TRAIN-7")
def test_training_losses(capsys: pytest.CaptureFixture[str], wrong: str) -> None:
    code, report = kit(capsys, "training", "--impl", "lateint_ref.training")
    assert code == 0, failing(report)
    code, report = kit(capsys, "training", "--impl", f"{wrong}:losses")
    assert code == 1
    assert failing(report) == {"R-TRAIN-6"}
    details = [c["detail"] for c in report["cases"] if c["passed"] is False]
    assert any("norm ratio got/expected 3" in d for d in details)


@pytest.mark.spec("R-ENC-7", "R-ENC-8", "R-ENC-11")
def test_encoder(capsys: pytest.CaptureFixture[str], wrong: str) -> None:
    args = ["--models", "tiny-bert"]
    code, report = kit(capsys, "encoder", "--impl", f"{REF}:encoder_numpy", *args)
    assert code == 0, failing(report)
    assert report["spec_versions"] == {"spec/encoder.md": 1}
    code, report = kit(capsys, "encoder", "--impl", f"{wrong}:unnormalised_encoder", *args)
    assert code == 1
    assert failing(report) == {"R-ENC-8", "R-ENC-11"}


def test_table_and_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The text table names each requirement; usage errors exit 2."""
    assert cli.main(["training", "--impl", "lateint_ref.training"]) == 0
    out = capsys.readouterr().out
    assert "| R-TRAIN-6 |" in out
    assert "PASS" in out.splitlines()[0]
    assert cli.main(["maxsim", "--impl", "no_such_module_xyz:f"]) == 2
    assert cli.main(["maxsim"]) == 2
    assert cli.main(["encoder", "--outputs", str(tmp_path)]) == 2
    assert cli.main(["maxsim", "--impl", f"{REF}:maxsim", "--adapter", "pylate-losses"]) == 2
    assert cli.main(["maxsim", "--impl", f"{REF}:maxsim", "--spec", str(tmp_path)]) == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["no-such-area"])
    assert info.value.code == 2


def test_command_line_exit_status_and_json(wrong: str) -> None:
    """``python -m lateint_ref.conformance`` itself: exit 1 and parseable JSON on a failure."""
    done = subprocess.run(
        [sys.executable, "-m", "lateint_ref.conformance", "maxsim", "--impl",
         f"{wrong}:off_by_1e3", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["area"] == "maxsim"
    assert not report["passed"]


def test_conformance_vectors_up_to_date() -> None:
    """spec/conformance/ equals a fresh run of its generator (and, where pytrec_eval is
    installed, the metric values equal trec_eval's)."""
    done = subprocess.run(
        [sys.executable, "spec/conformance_vectors.py", "--check"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_pylate_report_is_committed_and_linked() -> None:
    """The committed PyLate 1.6.0 report (spec/conformance_pylate.py) records the known
    differences, and spec/README.md links it."""
    data = json.loads((ROOT / "spec" / "conformance" / "pylate-1.6.0.json").read_text())
    runs = {r["id"]: r["report"] for r in data["runs"]}
    assert "R-MAXSIM-1" in failing(runs["maxsim-colbert_scores"])
    assert "R-MAXSIM-1" not in failing(runs["maxsim-colbert_scores-unpadded"])
    assert failing(runs["training-losses"]) == {"R-TRAIN-6"}
    assert runs["encoder-ColBERT"]["passed"]
    assert runs["metrics-pytrec_eval"]["passed"]
    assert "conformance/pylate-1.6.0.md" in (ROOT / "spec" / "README.md").read_text()
