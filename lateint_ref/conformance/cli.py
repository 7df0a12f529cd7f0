"""``python -m lateint_ref.conformance AREA (--impl MODULE:CALLABLE | --outputs FOLDER)``.

Checks an outside implementation against the spec's vectors and prints one row per requirement
(cases, passed, worst error, first failing case); ``--json`` prints the report as JSON instead.
Exit status: 0 when every case passed (skipped cases do not fail), 1 when any failed, 2 for a
usage error (bad arguments, an implementation that cannot be imported, missing vectors).
spec/README.md describes the shapes, the adapters and the ``--outputs`` layouts.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from lateint_ref.conformance import adapters
from lateint_ref.conformance.report import Report, dumps
from lateint_ref.errors import InputError

AREAS = ("maxsim", "encoder", "index-format", "metrics", "training")
OUTPUT_AREAS = ("maxsim", "metrics")


class UsageError(Exception):
    """A bad command line: exit status 2."""


def load_object(spec: str) -> Any:
    """``module:attr.path`` (or ``file.py:attr``, or a bare module) -> the object."""
    module_name, _, attr = spec.partition(":")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            loader = importlib.util.spec_from_file_location(path.stem, path)
            if loader is None or loader.loader is None:
                raise UsageError(f"cannot load {module_name}")
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except (ImportError, OSError) as e:
        raise UsageError(f"cannot import {module_name!r}: {e}") from e
    obj: Any = module
    for part in filter(None, attr.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError as e:
            raise UsageError(f"{module_name} has no attribute {attr!r}") from e
    return obj


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lateint_ref.conformance",
        description="Check an implementation against the lateint-ref spec's vectors "
        "(spec/README.md).",
    )
    p.add_argument("area", choices=AREAS)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--impl", metavar="MODULE:CALLABLE", help="the implementation to call")
    src.add_argument(
        "--outputs", metavar="FOLDER", help="check output files another implementation wrote"
    )
    src.add_argument(
        "--export", metavar="FOLDER", help="write the cases' inputs for --outputs (maxsim, metrics)"
    )
    p.add_argument(
        "--adapter",
        default="plain",
        help="shape of --impl: plain (default), torch-padded, pylate-model, pylate-losses, "
        "pylate-evaluate, pylate-ir-evaluator, pytrec-eval",
    )
    p.add_argument("--writer", metavar="MODULE:CALLABLE", help="index-format: an index writer")
    p.add_argument(
        "--models",
        default="tiny-bert,tiny-modernbert,minilm-seed0",
        help="encoder: the golden models to check (comma-separated)",
    )
    p.add_argument("--name", help="the implementation's name in the report")
    p.add_argument("--spec", metavar="DIR", help="the spec folder (default: the repository's)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def run(args: argparse.Namespace) -> Report:
    """The report of one parsed command line (UsageError for bad combinations)."""
    from lateint_ref.conformance import vectors

    spec = vectors.spec_dir(args.spec)
    if args.adapter not in adapters.ADAPTERS[args.area]:
        known = ", ".join(adapters.ADAPTERS[args.area])
        raise UsageError(f"adapter {args.adapter!r} does not apply to {args.area} ({known})")
    if args.outputs or args.export:
        if args.area not in OUTPUT_AREAS:
            raise UsageError(f"--outputs/--export: only {', '.join(OUTPUT_AREAS)} take files")
        if args.adapter != "plain":
            raise UsageError("--adapter applies to --impl only")
    name = args.name or args.impl or args.outputs or args.adapter
    if args.area == "maxsim":
        from lateint_ref.conformance import maxsim

        if args.outputs:
            return maxsim.check_outputs(spec, Path(args.outputs), name)
        return maxsim.check(_impl(args), spec, name)
    if args.area == "metrics":
        from lateint_ref.conformance import metrics

        if args.outputs:
            return metrics.check_outputs(spec, Path(args.outputs), name)
        return metrics.check(_impl(args), spec, name)
    if args.area == "encoder":
        from lateint_ref.conformance import encoder

        models = [m for m in args.models.split(",") if m]
        return encoder.check(_impl(args), spec, name, models)
    if args.area == "training":
        from lateint_ref.conformance import training

        return training.check(_impl(args), spec, name)
    from lateint_ref.conformance import index_format

    reader = _impl(args) if args.impl else None
    writer = load_object(args.writer) if args.writer else None
    if reader is None and writer is None:
        raise UsageError("index-format needs --impl (a reader) and/or --writer")
    return index_format.check(reader, writer, spec, name if args.impl else args.writer)


def _impl(args: argparse.Namespace) -> Any:
    if args.impl is None and args.adapter in ("plain", "torch-padded"):
        raise UsageError(f"{args.area} needs --impl MODULE:CALLABLE or --outputs FOLDER")
    impl = load_object(args.impl) if args.impl else None
    return adapters.build(args.area, args.adapter, impl)


def export(args: argparse.Namespace) -> int:
    from lateint_ref.conformance import vectors

    spec = vectors.spec_dir(args.spec)
    folder = Path(args.export)
    if args.area == "maxsim":
        from lateint_ref.conformance import maxsim

        n = maxsim.export(spec, folder)
    else:
        from lateint_ref.conformance import metrics

        n = metrics.export(spec, folder)
    print(f"wrote the inputs of {n} {args.area} cases to {folder}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.export:
            if args.area not in OUTPUT_AREAS:
                raise UsageError(f"--export: only {', '.join(OUTPUT_AREAS)} take files")
            return export(args)
        if not (args.impl or args.outputs or args.writer or args.adapter != "plain"):
            raise UsageError(f"{args.area} needs --impl MODULE:CALLABLE or --outputs FOLDER")
        report = run(args)
    except (UsageError, InputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(dumps([report]) if args.json else report.table())
    return 1 if report.failed else 0
