"""Fine-tunes all-MiniLM-L6-v2 (PyLate's seed-0 projection) on SciFact's train queries with
negatives mined by ``lateint mine``, and measures nDCG@10 on the 300 test queries before and
after (TRAINING.md).

The one command: ``make finetune`` (= ``.venv/bin/python bench/finetune_scifact.py``). Steps:

1. the start model: PyLate's seed-0 MiniLM folder (``bench/scifact.py``), nDCG@10 0.6335 exact;
2. ``lateint mine ../shared/data/scifact --split train`` writes the triplets (our own index);
3. a dev set is held out of the train split: ``--dev-queries`` judged train queries (seeded),
   scored over their judged documents plus ``--dev-corpus`` seeded corpus documents; their
   triplets are left out of training;
4. ``training.fit`` trains (``--mode full``: every weight; ``--mode projection``: the backbone
   frozen), dev nDCG@10 after each epoch, the best epoch kept;
5. the test split is scored with exact MaxSim (``search_exact``) and with our index (nbits 2)
   for the start, the final and the best model; the report (``--output``) and the plot of the
   loss and dev nDCG@10 (``--plot``, PNG, needs matplotlib) are written.

Everything goes under ``--work`` (default ``$HOME/.cache/lateint-ref/finetune``); the mined
triplets and the start model's test embeddings are reused when present."""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scifact  # noqa: E402

DATA = scifact.DATA
DEFAULT_WORK = Path.home() / ".cache" / "lateint-ref" / "finetune"


def _lateint() -> str:
    exe = Path(sys.executable).parent / "lateint"
    return str(exe) if exe.exists() else "lateint"


def mine(work: Path, start: Path, negatives: int) -> tuple[Path, float]:
    """Triplets mined by the command line (reused when present)."""
    out = work / f"triplets-{negatives}neg.jsonl"
    if out.exists():
        return out, float("nan")
    t = time.perf_counter()
    subprocess.run(
        [
            _lateint(),
            "mine",
            str(DATA),
            "--model",
            str(start),
            "--split",
            "train",
            "--negatives",
            str(negatives),
            "--index",
            str(work / "mine-index"),
            "--output",
            str(out) + ".tmp",
        ],
        check=True,
    )
    os.replace(str(out) + ".tmp", out)
    return out, time.perf_counter() - t


def split_dev(
    triplets: Path, work: Path, n_queries: int, n_corpus: int, seed: int
) -> tuple[Path, tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]], int]:
    """Holds ``n_queries`` judged train queries out: their triplets leave the training file and
    they become a dev set over their judged documents plus ``n_corpus`` seeded documents."""
    from lateint_ref.evaluation.beir import load_dataset

    stream, queries, qrels = load_dataset(DATA, split="train")
    corpus = dict(stream)
    rng = random.Random(seed)
    dev_ids = sorted(rng.sample(sorted(qrels), n_queries))
    dev_texts = {queries[q] for q in dev_ids}
    lines = triplets.read_text().splitlines()
    kept = [ln for ln in lines if json.loads(ln)["query"] not in dev_texts]
    train = work / f"train-{triplets.stem}-dev{n_queries}s{seed}.jsonl"
    train.write_text("".join(ln + "\n" for ln in kept))
    judged = {d for q in dev_ids for d in qrels[q]}
    ids = list(corpus)
    others = rng.sample([d for d in ids if d not in judged], n_corpus)
    chosen = judged | set(others)
    dev_corpus = {d: corpus[d] for d in ids if d in chosen}
    dev = (dev_corpus, {q: queries[q] for q in dev_ids}, {q: dict(qrels[q]) for q in dev_ids})
    return train, dev, len(lines) - len(kept)


def score_test_split(folder: Path, cached: Path | None = None) -> dict[str, float]:
    """nDCG@10 and Recall@100 on the SciFact test split: exact MaxSim and our index."""
    import lateint_ref as li
    from lateint_ref.evaluation import evaluate

    doc_ids, doc_texts = scifact.corpus()
    query_ids, query_texts = scifact.test_queries()
    qrels = scifact.qrels("test")
    if cached is not None and (cached / "docs.npy").exists():
        flat = np.load(cached / "docs.npy")
        offsets = np.load(cached / "offsets.npy")
        queries = np.load(cached / "queries.npy")
        docs = [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
        seconds = float("nan")
    else:
        enc = li.Encoder.from_pretrained(folder, backend="torch", precision="float32")
        t = time.perf_counter()
        docs = enc.encode(doc_texts, is_query=False, batch_size=32, show_progress=False)
        seconds = time.perf_counter() - t
        queries = np.stack(enc.encode(query_texts, is_query=True, batch_size=32))
        if cached is not None:
            cached.mkdir(parents=True, exist_ok=True)
            offsets = np.zeros(len(docs) + 1, dtype=np.int64)
            np.cumsum([len(d) for d in docs], out=offsets[1:])
            np.save(cached / "docs.npy", np.vstack(docs).astype(np.float32))
            np.save(cached / "offsets.npy", offsets)
            np.save(cached / "queries.npy", queries.astype(np.float32))
    out: dict[str, float] = {"encode_seconds": seconds}
    top_scores, top_docs = li.search_exact(queries, docs, k=100)
    run = {
        qid: {doc_ids[int(d)]: float(s) for d, s in zip(row_docs, row_scores, strict=True)}
        for qid, row_docs, row_scores in zip(query_ids, top_docs, top_scores, strict=True)
    }
    got = evaluate(run, qrels, ["ndcg@10", "recall@100"])
    out["exact_ndcg10"], out["exact_recall100"] = got["ndcg@10"], got["recall@100"]
    with tempfile.TemporaryDirectory() as tmp:
        index = li.Index.create(Path(tmp) / "ix", docs, nbits=2, seed=0)
        hits = index.search(queries, k=100)
        run = {
            qid: {doc_ids[int(d)]: float(s) for d, s in zip(h.ids, h.scores, strict=True)}
            for qid, h in zip(query_ids, hits, strict=True)
        }
    got = evaluate(run, qrels, ["ndcg@10", "recall@100"])
    out["index_ndcg10"], out["index_recall100"] = got["ndcg@10"], got["recall@100"]
    return out


def plot(history: list[dict], losses: list[float], per_epoch: int, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, color="tab:blue", alpha=0.35, lw=1, label="loss (step)")
    window = max(1, per_epoch // 4)
    if len(losses) >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        label = f"loss ({window}-step mean)"
        ax.plot(steps[window - 1 :], smooth, color="tab:blue", lw=2, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("contrastive loss", color="tab:blue")
    ax2 = ax.twinx()
    xs = [r["step"] for r in history]
    ys = [r["ndcg@10"] for r in history]
    ax2.plot(xs, ys, "o-", color="tab:red", lw=2, label="dev nDCG@10")
    ax2.set_ylabel("dev nDCG@10", color="tab:red")
    ax.set_title(title, fontsize=10)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="center right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=DEFAULT_WORK)
    p.add_argument("--mode", choices=("full", "projection"), default="full")
    p.add_argument(
        "--start",
        choices=("pylate-seed0", "backbone-seed0"),
        default="pylate-seed0",
        help="PyLate's seed-0 MiniLM folder or Encoder.from_backbone(seed=0); the negatives "
        "are mined with the former",
    )
    p.add_argument("--negatives", type=int, default=1, help="mined negatives per triplet")
    p.add_argument("--epochs", type=int, default=None, help="default 2 full, 4 projection")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="default 5e-5 full, 1e-3 projection")
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="backbone dropout (default 0: MiniLM's 0.1 costs about 40%% more time per step)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dev-queries", type=int, default=50)
    p.add_argument("--dev-corpus", type=int, default=1000)
    p.add_argument("--max-steps", type=int, default=None, help="a trial: stop after N steps")
    p.add_argument("--skip-test", action="store_true", help="a trial: no test-split scores")
    p.add_argument("--output", type=Path, help="the report (markdown)")
    p.add_argument("--plot", type=Path, help="the PNG of loss and dev nDCG@10")
    p.add_argument("--save", type=Path, help="copy the best model folder here")
    p.add_argument(
        "--export-projection",
        type=Path,
        help="copy the best model's projection (1_Dense/model.safetensors) to this file",
    )
    args = p.parse_args()
    full = args.mode == "full"
    lr = args.lr if args.lr is not None else (5e-5 if full else 1e-3)
    if args.epochs is None:
        args.epochs = 2 if full else 4

    import torch

    from lateint_ref import training

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    miner = start = work / "start"
    if not start.exists():
        scifact.pylate_minilm(Path(str(start) + ".tmp"))
        os.replace(str(start) + ".tmp", start)
    if args.start == "backbone-seed0":
        start = work / "start-backbone-seed0"
        if not start.exists():
            import lateint_ref as li

            li.Encoder.from_backbone(scifact.model_dir(), seed=0).save_pretrained(
                str(start) + ".tmp"
            )
            os.replace(str(start) + ".tmp", start)
    triplets, mine_seconds = mine(work, miner, args.negatives)
    print(f"triplets: {triplets} (mined in {mine_seconds:.0f} s)", file=sys.stderr)
    train_file, dev, held = split_dev(triplets, work, args.dev_queries, args.dev_corpus, args.seed)
    data = training.data.read_triplets(train_file)
    if args.max_steps is not None:
        from lateint_ref.training.data import TripletSet

        data = TripletSet(list(data)[: args.max_steps * args.batch_size])

    model = training.ColBERT.from_pretrained(start, dropout=args.dropout)
    if args.mode == "projection":
        for name, param in model.named_parameters():
            param.requires_grad_(not name.startswith("backbone."))
    loss = training.Contrastive(temperature=args.temperature)
    run_dir = work / (
        f"run-{args.start}-{args.mode}-{args.negatives}neg-e{args.epochs}-lr{lr:g}"
        f"-d{args.dropout:g}-s{args.seed}"
    )
    shutil.rmtree(run_dir, ignore_errors=True)
    t = time.perf_counter()
    result = training.fit(
        model,
        loss,
        data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=lr,
        warmup=args.warmup,
        seed=args.seed,
        output_dir=run_dir,
        dev=dev,
        progress=True,
    )
    train_seconds = time.perf_counter() - t
    print(f"trained {result.steps} steps in {train_seconds:.0f} s", file=sys.stderr)

    if args.skip_test:
        print(json.dumps(list(result.history), indent=1))
        return
    scores = {"start": score_test_split(start, work / f"test-embeddings-{args.start}")}
    scores["final"] = score_test_split(run_dir / "final")
    if result.best_dir is not None and result.best["epoch"] != result.history[-1]["epoch"]:
        scores["best"] = score_test_split(result.best_dir)
    else:
        scores["best"] = scores["final"]
    best_dir = result.best_dir if result.best_dir is not None else run_dir / "final"
    if args.export_projection is not None:
        args.export_projection.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(best_dir / "1_Dense" / "model.safetensors", args.export_projection)
    if args.save is not None and result.best_dir is not None:
        shutil.rmtree(args.save, ignore_errors=True)
        shutil.copytree(result.best_dir, args.save)
    report = {
        "mode": args.mode,
        "negatives": args.negatives,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": lr,
        "warmup": args.warmup,
        "seed": args.seed,
        "temperature": args.temperature,
        "dropout": args.dropout,
        "examples": len(data),
        "held_out_triplets": held,
        "dev_queries": args.dev_queries,
        "dev_corpus": len(dev[0]),
        "steps": result.steps,
        "train_seconds": round(train_seconds, 1),
        "mine_seconds": round(mine_seconds, 1),
        "history": list(result.history),
        "best_epoch": None if result.best is None else result.best["epoch"],
        "scores": scores,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor(),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
    (run_dir / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report["scores"], indent=1))
    per_epoch = max(1, result.steps // max(1, args.epochs))
    if args.plot is not None:
        title = (
            f"MiniLM-L6 ({args.mode}) on SciFact train, {args.negatives} mined negative(s), "
            f"batch {args.batch_size}, lr {lr:g}"
        )
        plot(list(result.history), list(result.losses), per_epoch, args.plot, title)
    if args.output is not None:
        args.output.write_text(markdown(report))


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def markdown(r: dict) -> str:
    s = r["scores"]
    rows = [
        f"| {name} | {s[name]['exact_ndcg10']:.4f} | {s[name]['exact_recall100']:.4f} | "
        f"{s[name]['index_ndcg10']:.4f} | {s[name]['index_recall100']:.4f} |"
        for name in ("start", "final", "best")
    ]
    gain = s["best"]["exact_ndcg10"] - s["start"]["exact_ndcg10"]
    reused = r["mine_seconds"] != r["mine_seconds"]  # NaN: mined by an earlier run (mine())
    mining = "triplets mined by an earlier run" if reused else f"mining {r['mine_seconds']:.0f} s"
    hist = "\n".join(
        f"| {h['epoch']} | {h['step']} | {_loss(h['loss'])} | {h['ndcg@10']:.4f} "
        f"| {h['seconds']:.0f} |"
        for h in r["history"]
    )
    return (
        f"# SciFact fine-tune ({r['mode']}), `bench/finetune_scifact.py`\n\n"
        f"{r['examples']} training triplets ({r['negatives']} mined negative(s) each; "
        f"{r['held_out_triplets']} held out with the {r['dev_queries']} dev queries), "
        f"{r['epochs']} epochs of batch {r['batch_size']} = {r['steps']} steps, lr {r['lr']:g}, "
        f"warmup {r['warmup']}, temperature {r['temperature']}, dropout {r['dropout']:g}, "
        f"seed {r['seed']}, "
        f"{r['trainable']:,} trainable parameters, {r['threads']} threads.\n"
        f"Training took {r['train_seconds']:.0f} s (dev evaluations included); "
        f"{mining}.\n\n"
        "| epoch | step | mean loss | dev nDCG@10 | seconds |\n"
        "| ---: | ---: | ---: | ---: | ---: |\n"
        f"{hist}\n\n"
        "SciFact test (300 queries, 5,183 documents):\n\n"
        "| model | exact nDCG@10 | exact R@100 | index nDCG@10 | index R@100 |\n"
        "| --- | ---: | ---: | ---: | ---: |\n" + "\n".join(rows) + "\n\n"
        f"Best epoch {r['best_epoch']}: exact nDCG@10 {gain:+.4f} over the start.\n"
    )


if __name__ == "__main__":
    main()
