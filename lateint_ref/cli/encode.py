"""``lateint encode``: encode texts to token embeddings (spec/cli.md)."""

from __future__ import annotations

import argparse
import io
import sys

from lateint_ref._files import write_atomic
from lateint_ref.cli.shared import EXIT_OK, backend, precision, print_json, snippet


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from lateint_ref.retrieval.retriever import load_encoder

    texts = [line.rstrip("\n") for line in sys.stdin] if args.texts == ["-"] else args.texts
    encoder = load_encoder(  # as `lateint index` loads it (R-RET-2)
        args.model,
        seed=args.seed,
        embedding_size=args.embedding_size,
        backend=backend(args),
        precision=precision(args),
        projection=args.projection,
    )
    embeddings = encoder.encode(texts, is_query=args.query, batch_size=args.batch_size)
    if args.output:
        offsets = np.cumsum([0] + [len(e) for e in embeddings], dtype=np.int64)
        dim = encoder.embedding_size
        vectors = np.concatenate(embeddings) if embeddings else np.zeros((0, dim), np.float32)
        buffer = io.BytesIO()  # R-CLI-10: plain arrays, no pickle; written atomically
        np.savez(buffer, vectors=vectors, offsets=offsets, texts=np.array(texts, dtype=str))
        write_atomic(args.output, buffer.getvalue())
        summary = {"texts": len(texts), "tokens": int(offsets[-1]), "dim": dim}
        if args.json:
            print_json({**summary, "output": args.output})
        else:
            print(f"encoded {len(texts)} texts ({offsets[-1]} tokens x {dim}) into {args.output}")
        return EXIT_OK
    if args.json:
        print_json(
            [{"text": t, "embeddings": e.tolist()} for t, e in zip(texts, embeddings, strict=True)]
        )
        return EXIT_OK
    for text, e in zip(texts, embeddings, strict=True):
        head = " ".join(f"{v:+.4f}" for v in e[0, :4]) if len(e) else ""
        print(f"{len(e):>4} x {e.shape[1]}  [{head} ...]  {snippet(text)}")
    return EXIT_OK
