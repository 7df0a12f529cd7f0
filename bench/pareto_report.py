"""The report and plots of bench/bench_pareto.py from its kept figures (one dict per collection:
``{"collection", ..., "engines": {curve name: {"engine", "nbits", "build_s", "bytes_per_token",
"points": {setting: {"p50_ms", "p95_ms", "overlap", "ndcg10", ...}}}}}``).

A curve is one engine at one nbits; its Pareto front for a metric is the points that no other
point of the curve beats on both latency and that metric (lower p50, higher quality). Latency
there is the p50 of the process's CPU time per query (``p50_cpu_ms``, the wall p50 for figures
kept without it): on a shared machine whose load changes over the minutes of a run, the wall
time of one engine measured under load is not comparable with another's measured idle, while a
one-thread search's CPU time hardly changes with load; on an idle machine the two agree."""

from __future__ import annotations

from pathlib import Path

BUDGETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
TITLES = {"scifact": "SciFact", "cranfield": "Cranfield", "vaswani": "Vaswani"}
METRICS = {"overlap": "exact top-10 found", "ndcg10": "nDCG@10"}
COLORS = {
    ("lateint-ref", 2): "#6baed6",
    ("lateint-ref", 4): "#08519c",
    ("fast-plaid", 2): "#fc9272",
    ("fast-plaid", 4): "#a50f15",
    ("WARP", 2): "#a1d99b",
    ("WARP", 4): "#238b45",
}


def latency(point: dict) -> float:
    """The latency the fronts, budgets and plots use (ms)."""
    return point.get("p50_cpu_ms", point["p50_ms"])


def front(points: dict[str, dict], metric: str) -> list[str]:
    """Names of the points on the Pareto front for ``metric``, fastest first."""
    names = sorted(points, key=lambda n: (latency(points[n]), -points[n][metric]))
    out, best = [], float("-inf")
    for n in names:
        if points[n][metric] > best:
            out.append(n)
            best = points[n][metric]
    return out


def _setting(curve: dict, name: str) -> str:
    """A setting's name, lateint-ref's defaults with their resolved values."""
    if name == "defaults" and "defaults" in curve:
        d = curve["defaults"]
        return (
            f"**defaults** (nprobe={d['nprobe']}, candidates={d['candidates']},"
            f" rescore={d['rescore']})"
        )
    if curve["engine"] == "WARP":
        p = curve["points"][name]["params"]
        shown = f"nprobe={p['nprobe']} bound={p['bound']} t'={p['t_prime']}"
        return f"**{name}** ({shown})" if name == "defaults" else f"{name} ({shown})"
    return f"**{name}**" if "default" in name else name or "-"


def _bytes(curve: dict) -> str:
    return f"{curve['bytes_per_token']:.1f}"


def table(result: dict) -> list[str]:
    """Every point of every curve, with its membership of the fronts."""
    lines = [
        "| engine | nbits | setting | top-10 overlap | nDCG@10 | p50 ms | p95 ms | p50 CPU ms"
        " | build s (CPU s) | bytes/token | front |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for curve in result["engines"].values():
        fronts = {m: set(front(curve["points"], m)) for m in METRICS}
        for name, p in sorted(curve["points"].items(), key=lambda kv: latency(kv[1])):
            on = [label for m, label in (("overlap", "O"), ("ndcg10", "N")) if name in fronts[m]]
            nbits = "-" if curve["nbits"] is None else curve["nbits"]
            build = "-" if curve["engine"] == "exact MaxSim" else f"{curve['build_s']:.1f}"
            if curve.get("build_cpu_s") is not None:
                build += f" ({curve['build_cpu_s']:.1f})"
            cpu = p.get("p50_cpu_ms")
            lines.append(
                f"| {curve['engine']} | {nbits} | {_setting(curve, name)} |"
                f" {100 * p['overlap']:.1f}% | {p['ndcg10']:.4f} | {p['p50_ms']:.2f} |"
                f" {p['p95_ms']:.2f} | {'-' if cpu is None else f'{cpu:.2f}'} | {build} |"
                f" {_bytes(curve)} | {' '.join(on)} |"
            )
    return lines


def budgets(result: dict) -> list[str]:
    """For each latency budget, each curve's best overlap among its points of p50 CPU ms within
    it."""
    curves = result["engines"]
    names = list(curves)
    lines = [
        "| p50 budget | " + " | ".join(names) + " |",
        "| ---: |" + " ---: |" * len(names),
    ]
    for budget in BUDGETS_MS:
        cells = []
        for n in names:
            inside = [p for p in curves[n]["points"].values() if latency(p) <= budget]
            if not inside:
                cells.append("-")
                continue
            best = max(inside, key=lambda p: (p["overlap"], p["ndcg10"]))
            cells.append(f"{100 * best['overlap']:.1f}% / {best['ndcg10']:.4f}")
        lines.append(f"| ≤ {budget} ms | " + " | ".join(cells) + " |")
    return lines


def cpu_wait(result: dict) -> str:
    """The range of CPU wait (other load) over the collection's latency runs."""
    waits = [
        p["cpu_wait"]
        for c in result["engines"].values()
        for p in c["points"].values()
        if p.get("cpu_wait") is not None
    ]
    if not waits:
        return "not available"
    mid = sorted(waits)[len(waits) // 2]
    return f"{100 * min(waits):.0f}% to {100 * max(waits):.0f}% (median {100 * mid:.0f}%)"


def build_waits(result: dict) -> str:
    """Each index's build CPU wait: build times are comparable only where these are alike."""
    return ", ".join(
        f"{name} {100 * c['build_cpu_wait']:.0f}%"
        for name, c in result["engines"].items()
        if c.get("build_cpu_wait") is not None
    )


def report(results: list[dict]) -> str:
    """The markdown report of every measured collection."""
    first = results[0] if results else {}
    peers = next((r["peers"] for r in results if r.get("peers")), {})
    versions = ", ".join(f"{k} {v}" for k, v in peers.items() if v) or "no peers venv"
    lines = [
        "# Peers: quality against latency (Pareto fronts)",
        "",
        "- command: `make bench-peers` (`.venv/bin/python bench/bench_pareto.py --collection C`"
        " for C in cranfield, scifact, vaswani; each collection's figures come from one run)",
        f"- machine: {first.get('machine', '?')}; Python {first.get('python', '?')}, numpy"
        f" {first.get('numpy', '?')}, lateint_ref {first.get('lateint_ref', '?')}; peers venv:"
        f" {versions}",
        "- embeddings: lateint-ref's encoder (torch float32) on all-MiniLM-L6-v2 with PyLate's"
        " seed-0 128-d projection (`bench/embeddings.py`), the same packed token vectors given to"
        " every engine",
        "- latency: one query per call after 3 warm-up calls, 1 thread (`threads=1`;"
        " `torch.set_num_threads(1)` and `OMP_NUM_THREADS=1` for the peers), k=10, every judged"
        " query; p50 / p95 over the queries. fast-plaid is called as `FastPlaid(device='cpu',"
        " low_memory=False).search(..., n_processes=1)`, WARP as `XTRWarp.search(...,"
        " num_threads=1)`. p50 CPU ms: the process's CPU time per query (every thread, user and"
        " system), which depends little on other load: the figure to compare where CPU wait is"
        " high",
        "- top-10 overlap: mean over queries of |top 10 ∩ exact MaxSim's top 10| / 10; nDCG@10:"
        " trec_eval's `ndcg_cut.10` (`lateint_ref.evaluation`), judgments of `qrels/test.tsv`"
        " (graded gains where graded, relevance ≤ 0 not relevant)",
        "- build: on 2 threads for every engine (lateint-ref `threads=2`; peers"
        " `OMP_NUM_THREADS=2`, `torch.set_num_threads(2)`), from the in-memory vectors; the"
        " peers' indexes are cached, their build figures from the run that built them;"
        " bytes/token: every file of the index folder / tokens (exact: the float32 vectors and"
        " offsets)",
        "- front: O = on its curve's Pareto front for overlap against p50 CPU ms, N = for"
        " nDCG@10 (the plots and budgets use p50 CPU ms too: see CPU wait below);"
        " **bold** settings are the named defaults (lateint-ref's `search` without parameters;"
        " fast-plaid's `FastPlaid.search` default 8/4096; PyLate's `indexes.PLAID` default"
        " 8/8192; WARP's tuned defaults, `xtr_warp.hyperparams`). WARP's nprobe settings take"
        " WARP's own rule for bound, max(8 nprobe, its default bound)",
        "- CPU wait: the share of a run's wall time in which some task waited for a CPU (Linux"
        " PSI): other load on the machine when well above 0",
    ]
    for r in results:
        title = TITLES.get(r["collection"], r["collection"])
        judged = r.get("n_judged_queries", r["n_queries"])
        queries = (
            f"{r['n_queries']} judged queries"
            if r["n_queries"] == judged
            else f"the first {r['n_queries']} of the {judged} judged queries (file order)"
        )
        missing = r.get("not_measured") or []
        lines += [
            "",
            f"## {title}",
            "",
            f"- {r['n_docs']:,} documents, {r['n_tokens']:,} token vectors, {queries};"
            f" embeddings cache entry `{r['embeddings']}`",
            f"- measured {r['measured_at']}, run time {r['run_seconds']:.0f} s; CPU wait over"
            f" the latency runs: {cpu_wait(r)}",
            f"- CPU wait during each build: {build_waits(r)}",
            *(
                [f"- not measured (index not built in time): {', '.join(missing)}"]
                if missing
                else []
            ),
            "",
            f"![{title}](pareto_{r['collection']}.png)",
            "",
            *table(r),
            "",
            "Best top-10 overlap (and that point's nDCG@10) of each curve among its settings"
            " within a budget of p50 CPU ms per query:",
            "",
            *budgets(r),
        ]
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    """Two panels (overlap, nDCG@10) against p50 CPU latency on a log axis: every point as a
    marker, each curve's front as a line, named defaults circled; exact MaxSim as a star."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    for ax, (metric, label) in zip(axes, METRICS.items(), strict=True):
        for name, curve in result["engines"].items():
            pts = curve["points"]
            if curve["engine"] == "exact MaxSim":
                (p,) = pts.values()
                scale = 100 if metric == "overlap" else 1
                ax.scatter(
                    latency(p), scale * p[metric], marker="*", s=160, c="k", label=name, zorder=3
                )
                continue
            color = COLORS[(curve["engine"], curve["nbits"])]
            scale = 100 if metric == "overlap" else 1
            xs = [latency(p) for p in pts.values()]
            ys = [scale * p[metric] for p in pts.values()]
            ax.scatter(xs, ys, s=14, color=color, alpha=0.55)
            f = front(pts, metric)
            ax.plot(
                [latency(pts[n]) for n in f],
                [scale * pts[n][metric] for n in f],
                "-o",
                ms=4,
                color=color,
                label=name,
            )
            named = [n for n in pts if "default" in n]
            ax.scatter(
                [latency(pts[n]) for n in named],
                [scale * pts[n][metric] for n in named],
                s=90,
                facecolors="none",
                edgecolors=color,
                linewidths=1.5,
                zorder=3,
            )
        ax.set_xscale("log")
        ax.set_xlabel("p50 latency per query, process CPU ms (1 thread, log scale)")
        ax.set_ylabel(f"{label} (%)" if metric == "overlap" else label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    title = TITLES.get(result["collection"], result["collection"])
    fig.suptitle(
        f"{title}: {result['n_docs']:,} documents, {result['n_queries']} queries, k=10"
        f" (measured {result['measured_at'][:10]})"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
