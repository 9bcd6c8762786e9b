"""javis: grow your own assistant model, version by version.

The weekly loop:
    javis status                 what is new since the last release; is a retrain due?
    javis release -m "why"       dvc repro -> gate vs the previous version -> record -> push -> tag
    javis compare v0.1 v0.2      metrics side by side and both versions' answers (`base`: the bare base)
    javis deploy v0.2            serve a version (models/current; default: the newest)
    javis rollback               serve the release before the deployed one (v0.3 -> v0.2 -> v0.1)
    javis export v0.2 --to ollama  merged weights, a GGUF adapter (llama.cpp) or an Ollama folder
    javis versions               every release with its data, metrics and user satisfaction

Training where the GPU is (README "Train on a GPU"):
    javis train [--on HOST | --sky CLUSTER]   dvc repro train evaluate here, over SSH or on SkyPilot

Set-up and data:
    javis init [--remote URL]    DVC remote (a local folder by default; s3://bucket/prefix)
    javis metrics                the workspace's metrics as tables
    javis import FILE...         outside chat data (ChatML, ShareGPT, Alpaca, DPO, KTO; CSV/TSV/Parquet; ChatGPT, Claude, Open WebUI, LibreChat, Chatbot UI exports) into data/raw

Talk to the deployed version and rate its answers (lines land in data/feedback/):
    javis chat                   in the terminal: /good, /bad, /fix <better answer>, /score 1-5
    javis serve [--port N]       the same as a local web page (http://127.0.0.1:8765/)

Over the ~400-line guide on purpose: one function per `javis` command plus the argument parser; each command is a thin call into the layers below.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from javis.core import params
from javis.core.text import fmt

DATA_STAGES = ("collect", "clean", "dedupe", "split")
TIMED_STAGES = (*DATA_STAGES, "base", "init", "baseline", "train", "score_baseline", "evaluate")


def _stage_seconds(p: params.Params, stage: str) -> str:
    from javis.core.stage import read_timing

    seconds = (read_timing(p.paths.timings, stage) or {}).get("seconds")
    return f"{seconds:.2f}" if isinstance(seconds, int | float) else "-"


def _load(path: Path) -> dict | None:
    return orjson.loads(path.read_bytes()) if path.exists() else None


def cmd_metrics(args: argparse.Namespace) -> int:
    from rich.table import Table

    p = params.load()
    folder = Path(p.paths.metrics)
    con = console()
    table = Table(title="Data stages (every record: kept or rejected with a reason)")
    for col in ("stage", "in", "kept", "rejected", "rejected by reason", "seconds"):
        table.add_column(
            col, justify="right" if col in ("in", "kept", "rejected", "seconds") else "left"
        )
    found = False
    for stage in DATA_STAGES:
        m = _load(folder / f"{stage}.json")
        if m is None:
            table.add_row(stage, "-", "-", "-", "(not run yet)", "-")
            continue
        found = True
        reasons = ", ".join(
            f"{k} {v}" for k, v in sorted(m["rejected_by_reason"].items(), key=lambda kv: -kv[1])
        )
        table.add_row(
            stage,
            str(m["in"]),
            str(m["kept"]),
            str(m["rejected"]),
            reasons or "-",
            _stage_seconds(p, stage),
        )
    con.print(table)
    clean = _load(folder / "clean.json")
    if clean and clean.get("redactions"):
        con.print("Redacted: " + ", ".join(f"{k} {v}" for k, v in clean["redactions"].items()))
    split = _load(folder / "split.json")
    if split:
        s = split["splits"]
        con.print(
            "Split: "
            + "; ".join(
                f"{kind} " + "/".join(str(s[kind][x]) for x in ("train", "val", "test"))
                for kind in s
            )
            + " (train/val/test); "
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
                t.add_row(key, fmt(value), fmt(base), fmt(delta))
        con.print(t)
    if not found:
        con.print("No metrics yet: run `dvc repro` (or `make run`).")
        return 1
    # Time per stage: each stage's last wall time (paths.timings, untracked: javis/core/stage.py).
    from javis.core.progress import duration
    from javis.core.stage import read_timing

    timed = []
    for stage in TIMED_STAGES:
        seconds = (read_timing(p.paths.timings, stage) or {}).get("seconds")
        timed.append((stage, float(seconds) if isinstance(seconds, int | float) else None))
    total = sum(sec for _, sec in timed if sec is not None)
    times = Table(title="Time per stage (each stage's last run)")
    for col in ("stage", "seconds", "time", "share"):
        times.add_column(col, justify="left" if col == "stage" else "right")
    for stage, sec in timed:
        if sec is None:
            times.add_row(stage, "-", "(not run yet)", "-")
        else:
            share = f"{sec / total:.0%}" if total else "-"
            times.add_row(stage, f"{sec:.1f}", duration(sec), share)
    times.add_row("total", f"{total:.1f}", duration(total), "100%" if total else "-", style="bold")
    con.print(times)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from javis.app import setup

    for line in setup.init(args.remote, endpoint=args.endpoint):
        print(line)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from javis.app import setup

    for line in setup.status(params.load(), refresh=args.refresh):
        print(line)
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from javis.release import transaction

    outcome = transaction.release(
        major=args.major,
        tag=args.tag or "",
        message=args.message or "",
        force=args.force,
        repro=not args.no_repro,
    )
    print(
        f"released {outcome.version} ({outcome.commit[:10]})"
        + (" with the gate overridden" if outcome.forced else "")
    )
    from javis.release.names import releases

    names = [v.name for v, _ in releases()]
    at = names.index(outcome.version) if outcome.version in names else 0
    previous = names[at - 1] if at > 0 else "base"
    print(
        f"  deploy it: javis deploy {outcome.version}   compare: javis compare {previous} {outcome.version}"
    )
    if outcome.seconds:
        print(step_times(outcome.seconds))
    return 0


def step_times(seconds: dict[str, float | None]) -> str:
    """The release's time per step, one line each, and the total."""
    width = max(len(k) for k in seconds)
    lines = ["time per step:"]
    for step, s in seconds.items():
        lines.append(f"  {step:<{width}}  " + ("skipped" if s is None else f"{s:8.1f} s"))
    total = sum(s for s in seconds.values() if s is not None)
    lines.append(f"  {'total':<{width}}  {total:8.1f} s")
    return "\n".join(lines)


def cmd_deploy(args: argparse.Namespace) -> int:
    from javis.release import deploy

    deploy.deploy(args.version)  # None: the newest release
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from javis.release import deploy

    deploy.rollback(args.version)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from javis.release import export

    export.export(args.version, args.to, Path(args.out) if args.out else None, dtype=args.dtype)
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    from javis.release import deploy, record

    rows = record.version_rows(params.load(), deploy.current_version())
    if not rows:
        print("No releases yet: `javis release -m 'first version'` makes javis-v0.1.")
        return 0
    from rich.measure import Measurement

    con = console()

    def fits(table) -> bool:  # its natural width (measured unbounded) fits the terminal
        return Measurement.get(con, con.options.update_width(10_000), table).maximum <= con.width

    wide = versions_table(rows, compact=False)
    if fits(wide):
        con.print(wide)
        return 0
    # Narrow terminal: base and method once above the table when every release shares them,
    # short headers, the version name never cut (the other columns wrap).
    shared = [
        f"{label} {rows[0][key]}"
        for key, label in (("base", "base"), ("method", "method"))
        if len({str(r[key]) for r in rows}) == 1
    ]
    drop = {"base", "method"} if shared else set()
    left_out: list[str] = []
    for more in ("date", "tool acc.", "style", "persona", ""):  # fewer columns while it is too wide
        table = versions_table(rows, compact=True, drop=drop | set(left_out))
        if not more or fits(table):
            break
        left_out.append(more)
    if shared:
        con.print(", ".join(shared) + " (every release)")
    con.print(table)
    con.print(
        "rated: mean user rating /5 (how many)"
        + ("; * deployed (models/current)" if any(r["deployed"] for r in rows) else "")
        + (
            f"; left out here: {', '.join(c.replace('tool acc.', 'tools') for c in left_out)}"
            " (a wider terminal shows them)"
            if left_out
            else ""
        )
    )
    return 0


def versions_table(rows: list[dict], compact: bool, drop: set[str] = frozenset()):
    """`javis versions` as a rich table: every column (`compact=False`), or short headers and
    the deployed mark beside the version name (`compact=True`)."""
    from rich import box
    from rich.table import Table

    def name(r: dict) -> str:
        return r["version"] + (" *" if compact and r["deployed"] else "")

    def rate(value: object) -> str:  # 0..1 rates: 2 decimals are enough in a narrow table
        return f"{value:.2f}" if compact and isinstance(value, float) else fmt(value)

    def rated(r: dict) -> str:
        if not compact:
            return r["satisfaction"]
        mean = r.get("rating_mean")
        return "-" if mean is None else f"{mean:.1f}/5 ({r.get('ratings', 0)})"

    cols = [
        ("version", "version", name),
        ("date", "date", lambda r: str(r["date"])),
        ("base", "base", lambda r: str(r["base"])),
        ("method", "method", lambda r: str(r["method"])),
        ("data", "data", lambda r: str(r["data"])),
        ("loss", "loss", lambda r: fmt(r["loss"])),
        ("tool acc.", "tools", lambda r: rate(r["tool_accuracy"])),
        ("style", "style", lambda r: rate(r["style"])),
        ("persona", "persona", lambda r: rate(r["persona"])),
        ("user satisfaction", "rated", rated),
    ]
    if not compact:
        cols.append(("", "", lambda r: "deployed" if r["deployed"] else ""))
    cols = [c for c in cols if c[0] not in drop]
    if compact:
        t = Table(title="Releases", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    else:
        t = Table(title="Releases", box=box.HEAVY_HEAD)
    for long, short, _ in cols:
        if long == "version":  # never cut, never wrapped
            t.add_column(short, no_wrap=True, min_width=max(len(name(r)) for r in rows))
        elif long == "date":
            t.add_column(long, no_wrap=True, min_width=10)
        else:
            t.add_column(short if compact else long, overflow="fold")
    for r in rows:
        t.add_row(*(get(r) for _, _, get in cols))
    return t


def console():
    """A rich console; wide when output goes to a file or pipe (tables must not be cut there).

    Not COLUMNS off a terminal: GNU readline exports COLUMNS=80 to every child of a process
    that loaded it (a Python shell, pytest), which would cut a piped table."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def cmd_compare(args: argparse.Namespace) -> int:
    from javis.app import compare

    compare.show(args.a, args.b, examples=args.examples)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from javis.app import workspace
    from javis.data import importers
    from javis.release import vcs

    p = params.load()
    return importers.main(
        p.paths,
        p.persona,
        p.collect,
        args.files,
        fmt=args.format,
        target=args.as_,
        source=args.source,
        columns=args.columns,
        dvc_add=None if args.no_dvc else vcs.readd_to_dvc,
        ensure_dirs=workspace.ensure_data_dirs,
        imports=p.sections["import"],
    )


def cmd_chat(args: argparse.Namespace) -> int:
    from javis.app import chat

    return chat.main(params.load())


def cmd_serve(args: argparse.Namespace) -> int:
    from javis.app import serve

    return serve.main(
        params.load(), host=args.host, port=args.port, engine=args.engine, run=args.exec
    )


def cmd_train(args: argparse.Namespace) -> int:
    import logging

    from javis.release import remote, vcs

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # each step's time
    p = params.load()
    if args.sky:
        lines = remote.train_sky(p, args.sky)
    elif args.on or p.train.remote:
        lines = remote.train_remote(p, args.on or p.train.remote)
    else:
        vcs.dvc("repro", *remote.MODEL_STAGES, stream=True)
        lines = ["trained here (dvc repro train evaluate)"]
    for line in lines:
        print(line)
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from javis.release import purge, vcs

    lines = purge.forget(
        params.load(), args.id, args.match, args.reason or "", vcs.git_user(), args.purge
    )
    try:
        for line in lines:
            print(line, flush=True)  # before `dvc repro collect`'s own output, when it runs
    except ValueError as e:
        print(f"javis: {e}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="javis", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    m = sub.add_parser("metrics", help="show the workspace's metrics as tables")
    m.set_defaults(func=cmd_metrics)

    c = sub.add_parser(
        "init", help="set up the DVC remote and the data folders; check the environment"
    )
    c.add_argument(
        "--remote", help="DVC remote: a folder (default ../javis-store) or s3://bucket/prefix"
    )
    c.add_argument(
        "--endpoint",
        help="S3 endpoint URL (MinIO, moto, ...); stored in .dvc/config.local, not git",
    )
    c.set_defaults(func=cmd_init)

    c = sub.add_parser(
        "status", help="new records since the last release, the retrain trigger, what is deployed"
    )
    c.add_argument(
        "--refresh",
        action="store_true",
        help="run the data stages first (dvc repro split) to count new records",
    )
    c.set_defaults(func=cmd_status)

    c = sub.add_parser(
        "release", help="dvc repro, gate against the previous version, record, push, commit, tag"
    )
    c.add_argument(
        "--major",
        action="store_true",
        help="a major version (automatic when the base model changed)",
    )
    c.add_argument("--tag", help="a suffix for the name: javis-v1.1-<tag> (e.g. dpo, tools)")
    c.add_argument(
        "-m", "--message", help="what this version is about (release notes; required with --force)"
    )
    c.add_argument(
        "--force",
        action="store_true",
        help="release even when the gate fails (recorded with who and why)",
    )
    c.add_argument(
        "--no-repro",
        action="store_true",
        help="release the workspace as it is (dvc.lock must be up to date)",
    )
    c.set_defaults(func=cmd_release)

    c = sub.add_parser(
        "compare", help="two versions side by side: metrics and answers to the same prompts"
    )
    c.add_argument(
        "a", help="a release (javis-v0.1, v0.1), 'workspace' or 'base' (the bare base model)"
    )
    c.add_argument("b", help="a release, 'workspace' or 'base'")
    c.add_argument(
        "--examples", type=int, default=5, help="how many answers to show, the most different first"
    )
    c.set_defaults(func=cmd_compare)

    c = sub.add_parser(
        "deploy", help="serve a release: models/current -> models/adapters/<version>"
    )
    c.add_argument("version", nargs="?", help="a release (default: the newest)")
    c.set_defaults(func=cmd_deploy)

    c = sub.add_parser(
        "rollback",
        help="serve the release before the deployed one (again: the one before that)",
    )
    c.add_argument("version", nargs="?", help="a release (default: the one before the deployed)")
    c.set_defaults(func=cmd_rollback)

    c = sub.add_parser(
        "export",
        help="a release as merged weights, a GGUF adapter for llama.cpp, or an Ollama folder",
    )
    c.add_argument("version", help="a release (javis-v0.2, v0.2) or 'current' (the deployed one)")
    c.add_argument("--to", required=True, choices=["merged", "gguf", "ollama"])
    c.add_argument("--out", help="the folder to write (default: exports/<version>/<to>/)")
    c.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "bfloat16", "float16"],
        help="merged: the weights' dtype (the merge itself is fp32)",
    )
    c.set_defaults(func=cmd_export)

    c = sub.add_parser(
        "forget", help="remove a conversation and all derived records from the next version"
    )
    c.add_argument(
        "id", nargs="?", help="a record id (data/collected) or the id it had in your own file"
    )
    c.add_argument("--match", help="forget every conversation containing this text instead")
    c.add_argument("--reason", help="why (recorded; the content never is)")
    c.add_argument(
        "--purge",
        action="store_true",
        help="also delete the stored data files of older releases that hold it",
    )
    c.set_defaults(func=cmd_forget)

    c = sub.add_parser(
        "versions", help="every release with base, data count, metrics, user satisfaction"
    )
    c.set_defaults(func=cmd_versions)

    c = sub.add_parser(
        "import",
        help="outside chat data into data/raw (or data/feedback), deduplicated, with provenance",
    )
    c.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="a JSON array, JSONL, CSV, TSV or Parquet file (a table: one record per row), or a "
        "chat app's export (ChatGPT .zip or conversations.json, Claude, Open WebUI, LibreChat, "
        "Chatbot UI)",
    )
    c.add_argument(
        "--format",
        default="auto",
        choices=[
            *("auto", "chatml", "openai", "sharegpt", "alpaca", "dpo", "kto"),
            *("chatgpt", "claude", "openwebui", "openwebui-feedback", "librechat", "chatbotui"),
            "sillytavern",
        ],
        help="the records' format (auto: detected per record and reported), or a chat app's "
        "export (auto-detected too; its conversations go to data/raw, its ratings to "
        "data/feedback)",
    )
    c.add_argument(
        "--columns",
        metavar="FIELD=COLUMN,...",
        help="which table column (or JSON row key) holds each field, e.g. prompt=question,"
        "response=answer; fields: system, prompt, response, instruction, input, output, chosen, "
        "rejected, completion, label (default: columns named like the fields)",
    )
    c.add_argument(
        "--as",
        dest="as_",
        default="raw",
        choices=["raw", "feedback"],
        help="raw: training data (data/raw); feedback: rated answers (data/feedback)",
    )
    c.add_argument(
        "--source",
        help="the source name recorded and used for the new file (default: the file's name)",
    )
    c.add_argument(
        "--no-dvc", action="store_true", help="do not re-add the folder to DVC afterwards"
    )
    c.set_defaults(func=cmd_import)

    c = sub.add_parser(
        "train", help="dvc repro train evaluate: here, on an SSH host (--on) or SkyPilot (--sky)"
    )
    c.add_argument(
        "--on", metavar="HOST", help="train on this SSH host (default: params train.remote)"
    )
    c.add_argument(
        "--sky", metavar="CLUSTER", help="train on a SkyPilot cluster (deploy/sky/train.yaml)"
    )
    c.set_defaults(func=cmd_train)

    c = sub.add_parser("chat", help="chat with the deployed version in the terminal; rate answers")
    c.set_defaults(func=cmd_chat)

    c = sub.add_parser(
        "serve",
        help="every version behind an OpenAI-compatible API (/v1) and a chat page with 👍/👎",
    )
    c.add_argument("--host", help="bind address (default: params serve.host, 127.0.0.1)")
    c.add_argument("--port", type=int, help="TCP port (default: params serve.port, 8765)")
    c.add_argument(
        "--engine",
        choices=("transformers", "vllm"),
        help="transformers: serve here; vllm: print the `vllm serve` command for the deployed "
        "version (default: params serve.engine)",
    )
    c.add_argument("--exec", action="store_true", help="with --engine vllm: run that command")
    c.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from javis.release import pin
    from javis.release.errors import ReleaseError

    try:
        pin.migrate()  # an old params.yaml's evaluate.baseline_tag/baseline_rev -> the pin file
        return args.func(args)
    except (params.ParamsError, ReleaseError) as e:
        print(f"javis: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
