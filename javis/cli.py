"""`javis`: the command line of the workshop.

    javis metrics     the metrics of the workspace: per stage in/kept/rejected with reasons,
                      and candidate vs baseline when the model has been evaluated
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from javis import params

DATA_STAGES = ("collect", "clean", "dedupe", "split")


def _load(path: Path) -> dict | None:
    return orjson.loads(path.read_bytes()) if path.exists() else None


def cmd_metrics(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    p = params.load()
    folder = Path(p.paths.metrics)
    console = Console()
    table = Table(title="Data stages (every record: kept or rejected with a reason)")
    for col in ("stage", "in", "kept", "rejected", "rejected by reason", "seconds"):
        table.add_column(col, justify="right" if col in ("in", "kept", "rejected", "seconds") else "left")
    found = False
    for stage in DATA_STAGES:
        m = _load(folder / f"{stage}.json")
        if m is None:
            table.add_row(stage, "-", "-", "-", "(not run yet)", "-")
            continue
        found = True
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(m["rejected_by_reason"].items(), key=lambda kv: -kv[1]))
        table.add_row(stage, str(m["in"]), str(m["kept"]), str(m["rejected"]), reasons or "-", f"{m['seconds']:.2f}")
    console.print(table)
    clean = _load(folder / "clean.json")
    if clean and clean.get("redactions"):
        console.print("Redacted: " + ", ".join(f"{k} {v}" for k, v in clean["redactions"].items()))
    split = _load(folder / "split.json")
    if split:
        s = split["splits"]
        console.print(
            "Split: " + "; ".join(f"{kind} " + "/".join(str(s[kind][x]) for x in ("train", "val", "test"))
                                  for kind in s) + " (train/val/test); "
            f"leakage exact {split['leakage']['exact']}, near {split['leakage']['near']}"
        )
    ev = _load(folder / "eval.json")
    if ev:
        t = Table(title="Evaluation: candidate vs baseline (same examples, same run)")
        for col in ("metric", "candidate", "baseline", "delta"):
            t.add_column(col, justify="left" if col == "metric" else "right")
        for key, value in ev.get("candidate", {}).items():
            if isinstance(value, (int, float)):
                base = ev.get("baseline", {}).get(key)
                delta = ev.get("delta", {}).get(key)
                t.add_row(key, _fmt(value), _fmt(base), _fmt(delta))
        console.print(t)
    if not found:
        console.print("No metrics yet: run `dvc repro` (or `make run`).")
        return 1
    return 0


def _fmt(x: object) -> str:
    if isinstance(x, float):
        return f"{x:.4f}"
    return "-" if x is None else str(x)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="javis", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("metrics", help="show the workspace's metrics as tables")
    m.set_defaults(func=cmd_metrics)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except params.ParamsError as e:
        print(f"javis: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
