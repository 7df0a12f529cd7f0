"""The trainer (spec/trainer.md R-FIT-1 to R-FIT-10, ``lateint train`` of spec/cli.md R-CLI-14)
on the tiny seeded BERT and a generated, separable triplets file: the loss falls, two runs give
the same weights bit for bit, a run killed by SIGKILL after a checkpoint resumes to the weights
of the run never stopped, the folders written load, the dev log, the best folder, the model card
and every error path."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from lateint_ref import Encoder, training
from lateint_ref.errors import InputError
from lateint_ref.training import dev as devset
from lateint_ref.training import trainer
from lateint_ref.training.data import read_distillation, read_triplets
from lateint_ref.training.trainer import FitResult, fit

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "spec" / "vectors" / "encoder" / "tiny-bert"
TOPICS = ["cats", "dogs", "rust", "tea", "bread", "ocean", "jazz", "chess"]
# Every query names its topic; its positive is about it, its negative about another topic.
TRIPLETS = [
    {"query": f"{t} {j}", "positive": f"a page about {t}", "negative": f"a page about {n}"}
    for i, t in enumerate(TOPICS)
    for j, n in enumerate((TOPICS[(i + 1) % 8], TOPICS[(i + 3) % 8]))
]
CORPUS = {f"d{i}": f"a page about {t}" for i, t in enumerate(TOPICS)}
QUERIES = {f"q{i}": t for i, t in enumerate(TOPICS)}
QRELS = {f"q{i}": {f"d{i}": 1} for i in range(len(TOPICS))}
DEV = (CORPUS, QUERIES, QRELS)
# 16 triplets in batches of 4: 4 steps an epoch.
SETTINGS: dict[str, Any] = {"batch_size": 4, "lr": 1e-3, "warmup": 2, "seed": 3}

torch.set_num_threads(1)


@pytest.fixture
def triplets(tmp_path: Path) -> Path:
    path = tmp_path / "triplets.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in TRIPLETS))
    return path


def _model(dropout: float | None = None) -> training.ColBERT:
    """The tiny BERT; by default at its config's dropout rates (0.1, spec/training.md
    R-TRAIN-11), so these runs train with dropout."""
    return training.ColBERT.from_pretrained(MODEL, dropout=dropout)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.spec("R-FIT-2", "R-FIT-4")
def test_loss_falls_and_dev_improves_on_separable_data(triplets: Path, tmp_path: Path) -> None:
    """R-FIT-2, R-FIT-4: AdamW with warmup and decay learns the separable set: the last
    epoch's mean loss is below the first's and dev nDCG@10 at the end beats the untrained
    start (epoch 0 of the log)."""
    result = fit(
        _model(), training.Contrastive(), read_triplets(triplets), epochs=4, dev=DEV, **SETTINGS
    )
    assert isinstance(result, FitResult)
    assert training.fit is fit
    assert result.steps == 16
    assert len(result.losses) == 16
    epochs = [r for r in result.history if r["epoch"] >= 1]
    assert [r["step"] for r in epochs] == [4, 8, 12, 16]
    assert epochs[-1]["loss"] < epochs[0]["loss"]
    assert result.history[0]["epoch"] == 0
    assert result.history[0]["loss"] is None
    assert result.history[-1]["ndcg@10"] > result.history[0]["ndcg@10"]
    assert result.best == max(epochs, key=lambda r: r["ndcg@10"])
    assert epochs[-1]["lr"] == 0.0  # R-FIT-2: linear decay to 0 at the last step
    assert result.final_dir is None
    assert result.best_dir is None


@pytest.mark.spec("R-FIT-2")
def test_schedule_is_linear_warmup_then_linear_decay() -> None:
    """R-FIT-2: factors of transformers' get_linear_schedule_with_warmup; warmup as steps or
    as a fraction of all steps, rounded up."""
    assert [trainer._schedule(s, 2, 6) for s in range(7)] == [0, 0.5, 1, 0.75, 0.5, 0.25, 0]
    assert [trainer._schedule(s, 0, 4) for s in range(4)] == [1, 0.75, 0.5, 0.25]
    assert trainer._warmup(0.25, 10) == 3
    assert trainer._warmup(3, 10) == 3
    assert trainer._warmup(50, 10) == 10
    assert trainer._warmup(1.0, 10) == 10


@pytest.mark.spec("R-FIT-2")
def test_gradient_clipping_bounds_the_first_update(triplets: Path) -> None:
    """R-FIT-2: max_grad_norm clips the gradients: a tiny bound (gradients down to the size of
    AdamW's eps) gives other weights than no clipping."""
    data = read_triplets(triplets)
    runs = []
    for clip in (1e-6, None):
        model = _model()
        fit(model, training.Contrastive(), data, max_grad_norm=clip, **SETTINGS)
        runs.append(_weights(model))
    assert not _same(runs[0], runs[1])


@pytest.mark.spec("R-FIT-3")
def test_two_runs_give_the_same_weights(triplets: Path) -> None:
    """R-FIT-3: the same arguments give bit-identical weights and losses; another seed
    another batch order and other weights."""
    data = read_triplets(triplets)
    out = []
    for seed in (3, 3, 4):
        model = _model()
        result = fit(
            model,
            training.CachedContrastive(mini_batch_size=2),
            data,
            epochs=1,
            **{**SETTINGS, "seed": seed},
        )
        out.append((_weights(model), result.losses))
    assert _same(out[0][0], out[1][0])
    assert out[0][1] == out[1][1]
    assert not _same(out[0][0], out[2][0])


CHILD = """
import sys, time, torch
from pathlib import Path
from lateint_ref import training
from lateint_ref.training.data import read_triplets
from lateint_ref.training.trainer import FitResult, fit
torch.set_num_threads(1)
def hook(path):
    print("CHECKPOINT", path.name, flush=True)
    if path.name == "checkpoint-6":
        time.sleep(120)
fit(training.ColBERT.from_pretrained(sys.argv[1]), training.Contrastive(),
    read_triplets(sys.argv[2]), epochs=2, checkpoint_every=3, output_dir=sys.argv[3],
    on_checkpoint=hook, dev=DEV, batch_size=4, lr=1e-3, warmup=2, seed=3)
"""


@pytest.mark.spec("R-FIT-5", "R-FIT-6")
def test_resume_after_sigkill_is_exact(triplets: Path, tmp_path: Path) -> None:
    """R-FIT-5, R-FIT-6: a child killed by SIGKILL right after checkpoint-6 (mid-epoch 2 of
    2) is resumed: the newest complete checkpoint is picked (a partial folder and a leftover
    temporary one are ignored), and the final weights, losses and log equal, bit for bit, those
    of the run never stopped."""
    out = tmp_path / "out"
    script = tmp_path / "child.py"
    script.write_text(CHILD.replace("DEV", repr(DEV)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, str(script), str(MODEL), str(triplets), str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    seen = []
    try:
        for line in child.stdout:
            seen.append(line.split()[1])
            if seen[-1] == "checkpoint-6":
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        child.stdout.close()
    assert seen == ["checkpoint-3", "checkpoint-6"]
    assert child.returncode == -signal.SIGKILL
    assert not (out / "final").exists()
    (out / "checkpoint-7").mkdir()  # a partial checkpoint (no trainer_state.json)
    (out / "checkpoint-7" / "config.json").write_text("{")
    (out / ".checkpoint-8.tmp-abc").mkdir()

    resumed_model = _model()
    resumed = fit(
        resumed_model,
        training.Contrastive(),
        read_triplets(triplets),
        epochs=2,
        checkpoint_every=3,
        output_dir=out,
        dev=DEV,
        **SETTINGS,
    )
    assert resumed.resumed_from == out / "checkpoint-6"
    assert not (out / ".checkpoint-8.tmp-abc").exists()

    whole_model = _model()
    whole = fit(
        whole_model,
        training.Contrastive(),
        read_triplets(triplets),
        epochs=2,
        checkpoint_every=3,
        output_dir=tmp_path / "whole",
        dev=DEV,
        **SETTINGS,
    )
    assert whole.resumed_from is None
    assert _same(_weights(resumed_model), _weights(whole_model))
    assert resumed.losses == whole.losses
    assert resumed.steps == whole.steps == 8
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in whole.history]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.history] == strip
    logged = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in logged] == strip


@pytest.mark.spec("R-FIT-6")
def test_resume_refuses_other_settings_and_resume_false_starts_over(
    triplets: Path, tmp_path: Path
) -> None:
    """R-FIT-6: a checkpoint of other settings, or of a model with other dropout rates
    (R-TRAIN-11), is refused before any step; resume=False starts from the model given."""
    data = read_triplets(triplets)
    fit(_model(), training.Contrastive(), data, checkpoint_every=2, output_dir=tmp_path, **SETTINGS)
    with pytest.raises(InputError, match=r"R-FIT-6: .*dropout .*0\.1.* != .*0\.0"):
        fit(_model(dropout=0.0), training.Contrastive(), data, output_dir=tmp_path, **SETTINGS)
    with pytest.raises(InputError, match=r"R-FIT-6: .*batch_size 4 != 8"):
        fit(
            _model(),
            training.Contrastive(),
            data,
            output_dir=tmp_path,
            **{**SETTINGS, "batch_size": 8},
        )
    again = fit(
        _model(),
        training.Contrastive(),
        data,
        output_dir=tmp_path,
        resume=False,
        **{**SETTINGS, "batch_size": 8},
    )
    assert again.resumed_from is None
    assert again.steps == 2


@pytest.mark.spec("R-FIT-5", "R-FIT-7")
def test_checkpoint_layout_loads_with_encoder(triplets: Path, tmp_path: Path) -> None:
    """R-FIT-5, R-FIT-7: a checkpoint and the final folder are PyLate folders that
    ``Encoder.from_pretrained`` loads; the final one gives the trained model's embeddings."""
    model = _model()
    result = fit(
        model,
        training.Contrastive(),
        read_triplets(triplets),
        checkpoint_every=2,
        output_dir=tmp_path,
        **SETTINGS,
    )
    names = {p.name for p in (tmp_path / "checkpoint-2").iterdir()}
    assert {
        "modules.json",
        "model.safetensors",
        "trainer_state.json",
        "trainer_state.safetensors",
    } <= names
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    state = json.loads((tmp_path / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["state"]["step"] == 2
    assert len(state["state"]["losses"]) == 2
    assert result.final_dir == tmp_path / "final"
    Encoder.from_pretrained(tmp_path / "checkpoint-2")
    texts = ["a page about jazz", "tea"]
    with torch.no_grad():
        x, kept = model.embed(texts, is_query=False)
    got = Encoder.from_pretrained(result.final_dir, backend="torch").encode(texts, is_query=False)
    for i, g in enumerate(got):
        torch.testing.assert_close(torch.from_numpy(g), x[i][kept[i]], rtol=1e-5, atol=1e-6)


@pytest.mark.spec("R-FIT-4", "R-FIT-7", "R-FIT-8", "R-FIT-9")
def test_dev_log_best_folder_and_model_card(triplets: Path, tmp_path: Path) -> None:
    """R-FIT-4, R-FIT-7, R-FIT-8, R-FIT-9: one JSON line per epoch (epoch 0: before training)
    with loss, lr, step, epoch, seconds and ndcg@10; best/ holds the best epoch's model; the
    final and best folders carry a model card."""
    corpus_dir = tmp_path / "beir"
    (corpus_dir / "qrels").mkdir(parents=True)
    (corpus_dir / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in CORPUS.items())
    )
    (corpus_dir / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in QUERIES.items())
    )
    (corpus_dir / "qrels" / "dev.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(8))
    )
    out = tmp_path / "out"
    result = fit(
        _model(),
        training.Contrastive(),
        read_triplets(triplets),
        epochs=3,
        output_dir=out,
        dev=corpus_dir,
        dev_split="dev",
        **SETTINGS,
    )
    lines = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [0, 1, 2, 3]
    assert list(lines[1]) == ["epoch", "step", "loss", "lr", "seconds", "ndcg@10"]
    assert lines == list(result.history)
    dict_run = fit(
        _model(), training.Contrastive(), read_triplets(triplets), epochs=3, dev=DEV, **SETTINGS
    )
    assert [r["ndcg@10"] for r in dict_run.history] == [r["ndcg@10"] for r in lines]
    assert result.best_dir == out / "best"
    assert result.best is not None
    best_model = training.ColBERT.from_pretrained(out / "best")
    dev_set = devset.read(DEV, "test")
    assert dev_set is not None
    score = devset.evaluate(best_model, dev_set, 4)
    assert score == pytest.approx(result.best["ndcg@10"], abs=1e-6)
    for folder in ("final", "best"):
        card = (out / folder / "README.md").read_text()
        assert "base_model:" in card
        assert str(MODEL) in card
        assert "Contrastive" in card
        assert "temperature=1.0" in card
        assert "triplets.jsonl" in card
        assert "| examples | 16 |" in card
        assert "| batch_size | 4 |" in card
        assert "| warmup_steps | 2 |" in card
        assert (
            "| dropout | {'hidden_dropout_prob': 0.1, 'attention_probs_dropout_prob': 0.1} |"
            in card
        )
        assert "Encoder.from_pretrained" in card
        assert "models.ColBERT(" in card
        assert "ndcg@10" in card
        assert f"{result.best['ndcg@10']:.4f}" in card
    assert "12 optimizer steps over 3 epochs" in (out / "final" / "README.md").read_text()


@pytest.mark.spec("R-FIT-1", "R-FIT-10")
def test_distillation_and_bfloat16(tmp_path: Path) -> None:
    """R-FIT-1, R-FIT-10: Distillation trains on a distillation file with its teacher scores;
    bfloat16 autocast trains with float32 weights and finite losses."""
    (tmp_path / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in QUERIES.items())
    )
    (tmp_path / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in CORPUS.items())
    )
    rows = [
        {"query_id": f"q{i}", "document_ids": [f"d{i}", f"d{(i + 1) % 8}"], "scores": [3.0, 0.5]}
        for i in range(8)
    ]
    (tmp_path / "distil.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = read_distillation(
        tmp_path / "distil.jsonl",
        queries=tmp_path / "queries.jsonl",
        corpus=tmp_path / "corpus.jsonl",
    )
    for precision in ("float32", "bfloat16"):
        model = _model()
        result = fit(
            model, training.Distillation(), data, epochs=2, precision=precision, **SETTINGS
        )
        assert result.steps == 4
        assert all(torch.isfinite(torch.tensor(result.losses)))
        assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.mark.spec("R-FIT-1", "R-FIT-2", "R-FIT-4")
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "R-FIT-1: epochs must be an integer >= 1, got 0"),
        ({"batch_size": True}, "R-FIT-1: batch_size must be an integer >= 1"),
        ({"lr": 0}, "R-FIT-1: lr must be a finite number > 0"),
        ({"weight_decay": -1}, "R-FIT-1: weight_decay must be a finite number >= 0"),
        ({"precision": "float16"}, "R-FIT-1: precision must be one of"),
        ({"checkpoint_every": 2}, "R-FIT-1: checkpoint_every needs an output_dir"),
        ({"drop_last": True, "batch_size": 99}, "R-FIT-1: drop_last .* leaves no batch"),
        ({"warmup": 1.5}, "R-FIT-2: warmup must be"),
        ({"warmup": -1}, "R-FIT-2: warmup steps must be >= 0"),
        ({"dev": ({}, QUERIES, QRELS)}, "R-FIT-4: dev needs a non-empty corpus"),
        ({"dev": (CORPUS, QUERIES, {"zz": {"d0": 1}})}, "R-FIT-4: no dev query is judged"),
        ({"dev": [1, 2]}, "R-FIT-4: dev must be"),
    ],
)
def test_bad_arguments_fail_before_any_step(
    triplets: Path, kwargs: dict[str, Any], message: str
) -> None:
    """R-FIT-1, R-FIT-2, R-FIT-4: a bad argument is an InputError naming the rule and the
    value, before any step: the model is unchanged."""
    model = _model()
    before = _weights(model)
    with pytest.raises(InputError, match=message):
        fit(model, training.Contrastive(), read_triplets(triplets), **kwargs)
    assert _same(before, _weights(model))


@pytest.mark.spec("R-BEIR-1", "R-FIT-1")
def test_loss_and_data_kinds_must_match(triplets: Path, tmp_path: Path) -> None:
    """R-FIT-1: Distillation needs a DistillationSet, the contrastive losses a TripletSet or
    a PairSet; a missing dev folder is a FileNotFoundError."""
    data = read_triplets(triplets)
    with pytest.raises(InputError, match="R-FIT-1: Distillation trains on a DistillationSet"):
        fit(_model(), training.Distillation(), data)
    with pytest.raises(InputError, match="R-FIT-1: loss must be"):
        fit(_model(), object(), data)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="R-FIT-1: model must be"):
        fit(object(), training.Contrastive(), data)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="R-BEIR-1"):
        fit(_model(), training.Contrastive(), data, dev=tmp_path / "none")


@pytest.mark.spec("R-FIT-11")
def test_progress_line_shows_loss_and_speed(
    triplets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """R-FIT-11: progress=True prints the running loss and steps/s on stderr; the default is
    silent off a terminal."""
    fit(_model(), training.Contrastive(), read_triplets(triplets), progress=True, **SETTINGS)
    err = capsys.readouterr().err
    assert "training: epoch 1/1 loss " in err
    assert "steps/s 4/4" in err
    fit(_model(), training.Contrastive(), read_triplets(triplets), **SETTINGS)
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- lateint train


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from lateint_ref.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.spec("R-CLI-14")
def test_cli_train_with_config_and_flags(
    triplets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """R-CLI-14: options from a TOML file, flags winning over it; the run gives the weights of
    ``fit`` with the same arguments (``dropout`` the model's, R-TRAIN-11), prints its JSON
    summary, and a rerun resumes."""
    config = tmp_path / "train.toml"
    config.write_text(
        f'model = "{MODEL}"\nbatch-size = 4\nlr = 0.001\nwarmup = 2\nseed = 3\nepochs = 9\n'
        'checkpoint_every = 2\nloss = "cached-contrastive"\nmini-batch-size = 2\n'
        "dropout = 0.5\n"
    )
    out = tmp_path / "out"
    argv = ["train", "--config", str(config), "--triplets", str(triplets), "--output", str(out)]
    argv += ["--dropout", "0.25"]
    code, stdout, _ = _main([*argv, "--epochs", "1", "--json"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert summary["steps"] == 4
    assert summary["epochs"] == 1
    assert summary["final"] == str(out / "final")
    assert summary["resumed_from"] is None
    model = _model(dropout=0.25)
    fit(model, training.CachedContrastive(mini_batch_size=2), read_triplets(triplets), **SETTINGS)
    trained = training.ColBERT.from_pretrained(out / "final")
    assert set(trained.dropout_rates.values()) == {0.25}  # saved with the model
    ours = trained.state_dict()
    assert all(torch.equal(v, ours[k]) for k, v in model.state_dict().items())
    code, stdout, _ = _main([*argv, "--epochs", "1"], capsys)
    assert code == 0
    assert f"resumed from {out / 'checkpoint-4'}" in stdout
    assert "final model in" in stdout


@pytest.mark.spec("R-CLI-14")
def test_cli_train_projection_only(
    triplets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """R-CLI-14: ``--trainable projection`` trains the projection alone; the backbone saved is
    the one loaded, bit for bit, and the projection is ``fit``'s with the backbone frozen."""
    out = tmp_path / "out"
    argv = ["train", "--model", str(MODEL), "--triplets", str(triplets), "--output", str(out)]
    argv += ["--trainable", "projection", "--batch-size", "4", "--lr", "0.01", "--seed", "3"]
    code, _, _ = _main(argv, capsys)
    assert code == 0
    start = training.ColBERT.from_pretrained(MODEL).state_dict()
    trained = training.ColBERT.from_pretrained(out / "final").state_dict()
    for name, value in start.items():
        same = torch.equal(value, trained[name])
        assert same != name.startswith("projections."), name
    model = training.ColBERT.from_pretrained(MODEL)
    model.backbone.requires_grad_(False)
    fit(model, training.Contrastive(), read_triplets(triplets), batch_size=4, lr=0.01, seed=3)
    want = model.state_dict()["projections.0.linear.weight"]
    assert torch.equal(want, trained["projections.0.linear.weight"])


@pytest.mark.spec("R-CLI-14", "R-FIT-1", "R-TDATA-3", "R-TRAIN-11")
@pytest.mark.parametrize(
    ("extra", "toml", "code", "message"),
    [
        ([], "", 2, "R-CLI-14: --output is required"),
        (["--output", "o", "--distillation", "x.jsonl"], "", 2, "R-CLI-14: give exactly one"),
        (["--output", "o"], "epochs = 'two'\n", 2, "R-CLI-14: .*bad value for 'epochs'"),
        (["--output", "o"], "colour = 1\n", 2, "R-CLI-14: .*unknown key 'colour'"),
        (["--output", "o"], "epochs = [\n", 2, "R-CLI-14: .*not TOML"),
        (["--output", "o", "--lr", "-1"], "", 1, "R-FIT-1: lr must be a finite number > 0"),
        (["--output", "o", "--dropout", "1"], "", 1, r"R-TRAIN-11: dropout must be .*got 1\.0"),
        (["--output", "o"], "dropout = -0.5\n", 1, "R-TRAIN-11: dropout must be"),
        (["--output", "o"], "dropout = '0.1'\n", 2, "R-CLI-14: .*bad value for 'dropout'"),
        (["--output", "o", "--bad-data"], "", 1, "R-TDATA-3: .* line 2: .*'query'"),
    ],
)
def test_cli_train_errors_before_any_step(
    triplets: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    toml: str,
    code: int,
    message: str,
) -> None:
    """R-CLI-14: usage errors exit 2, bad values and bad data exit 1 with their rule, before
    any step: nothing is written into the output folder."""
    config = tmp_path / "train.toml"
    config.write_text(toml)
    data = triplets
    if "--bad-data" in extra:
        extra = [a for a in extra if a != "--bad-data"]
        data = tmp_path / "bad.jsonl"
        data.write_text(
            json.dumps(TRIPLETS[0]) + "\n" + json.dumps({"positive": "p", "negative": "n"}) + "\n"
        )
    extra = [str(tmp_path / a) if a == "o" else a for a in extra]
    argv = ["train", "--model", str(MODEL), "--config", str(config), *extra]
    argv += ["--triplets", str(data)]
    got, _, err = _main(argv, capsys)
    assert got == code
    assert re.search(f"lateint: error: {message}", err), err
    assert not (tmp_path / "o" / "final").exists()
