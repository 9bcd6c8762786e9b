"""Redaction false positives: what the redactor replaces, per file and type, on real text.

    python benchmarks/redaction_fp.py                        # ../shared/corpora + examples/
    python benchmarks/redaction_fp.py --show                 # and every hit, in its context
    python benchmarks/redaction_fp.py --extra dpo_en_demo.json   # more files
    python benchmarks/redaction_fp.py --redactor /tmp/old_redact.py  # another redact.py (before)

Every file of `../shared/corpora/` (third-party chat exports and the LLaMA-Factory demo sets:
JSON, every string value of each record, in order) and of `examples/raw`, `examples/feedback`
(JSONL, one record a line; a line that is no JSON is one string) is redacted record by record,
the way `clean` redacts: each record's strings in order, so a card or phone word in one turn
counts for a number at the start of the next (`Redactor.redact_texts`). Other files (README.md)
are one string. The corpora hold no planted secrets, so every hit there is to be reviewed by eye
(`--show`); the examples plant three (examples/README.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPORA = ROOT.parent / "shared" / "corpora"
_PLACEHOLDER = re.compile(r"<(?:SECRET|PII):[a-z_]+>")


def strings_in(value: object) -> list[str]:
    """Every string value inside a JSON value, in document order (object keys left out)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def records_of(path: Path) -> list[list[str]]:
    """The strings of each record of `path`: JSON list items, JSONL lines, or the whole file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".jsonl":
        out = []
        for line in text.splitlines():
            try:
                out.append(strings_in(json.loads(line)))
            except ValueError:
                out.append([line])
        return out
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError:
            return [[text]]
        return [strings_in(item) for item in data] if isinstance(data, list) else [strings_in(data)]
    return [[text]]


def default_files() -> list[Path]:
    files = sorted(p for p in CORPORA.rglob("*") if p.is_file()) if CORPORA.is_dir() else []
    for folder in ("examples/raw", "examples/feedback"):
        files += sorted(p for p in (ROOT / folder).glob("*") if p.is_file())
    return files


def load_redactor(path: str | None):
    if path is None:
        from javis.data.redact import Redactor

        return Redactor()
    spec = importlib.util.spec_from_file_location("redact_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.Redactor()


def hits_in(redactor, strings: list[str]) -> list[tuple[str, str]]:
    """(placeholder, the text around the hit) for every replacement in one record's strings."""
    if hasattr(redactor, "redact_texts"):
        redacted, _ = redactor.redact_texts(strings)
    else:  # an older redact.py: string by string
        redacted = [redactor.redact(s)[0] for s in strings]
    out = []
    for before, after in zip(strings, redacted, strict=True):
        # Placeholders already in the input are no hit (the count per type is what is new).
        new = Counter(_PLACEHOLDER.findall(after)) - Counter(_PLACEHOLDER.findall(before))
        for m in _PLACEHOLDER.finditer(after):
            if new[m.group()] > 0:
                new[m.group()] -= 1
                context = after[max(0, m.start() - 60) : m.end() + 40].replace("\n", " ")
                out.append((m.group()[1:-1], context))
    return out


def measure(redactor, files: list[Path]) -> dict[str, tuple[int, Counter[str], list]]:
    """Per file (path relative to its root): (records, count per type, every hit)."""
    out = {}
    for path in files:
        records = records_of(path)
        found = [h for strings in records for h in hits_in(redactor, strings)]
        path = path.resolve()
        name = str(
            path.relative_to(CORPORA)
            if path.is_relative_to(CORPORA)
            else path.relative_to(ROOT)
            if path.is_relative_to(ROOT)
            else path
        )
        out[name] = (len(records), Counter(kind for kind, _ in found), found)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="files (default: corpora and examples)")
    ap.add_argument("--extra", nargs="*", type=Path, default=[], help="more files")
    ap.add_argument("--redactor", help="a redact.py to load instead of javis.data.redact")
    ap.add_argument("--show", action="store_true", help="print every hit in its context")
    args = ap.parse_args()
    files = (args.files or default_files()) + args.extra
    result = measure(load_redactor(args.redactor), files)
    total: Counter[str] = Counter()
    print(f"{'file':45} {'records':>8}  hits per type")
    for name, (n, counts, found) in result.items():
        total.update(counts)
        print(f"{name:45} {n:8}  {dict(sorted(counts.items())) or '-'}")
        if args.show:
            for kind, context in found:
                print(f"    {kind:22} ...{context}...")
    print(f"{'all':45} {'':8}  {dict(sorted(total.items()))}")


if __name__ == "__main__":
    main()
