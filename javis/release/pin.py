"""The baseline pin: which release the next version is compared with.

`data/baseline.json` (`paths.baseline_pin`, git-tracked, a dep of the `baseline` stage) holds
`{"tag": ..., "rev": ...}`: the last release's tag and commit, written by the release transaction
when it opens the next version (javis/release/transaction.py). `{}` or no file: no release yet, the
baseline is the bare base model. It replaces `evaluate.baseline_tag`/`baseline_rev`, which `javis
release` used to write into params.yaml, a file people edit by hand; `migrate()` moves an old
params.yaml's values here once. See docs/DESIGN.md, "Versions".
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import yaml

from javis.core import fileio, params
from javis.release.errors import ReleaseError

log = logging.getLogger("javis.pin")

OLD_KEYS = ("baseline_tag", "baseline_rev")  # evaluate.* in params.yaml before the pin file


@dataclass(frozen=True)
class BaselinePin:
    tag: str = ""  # the last release's tag ("" = none yet: the bare base)
    rev: str = ""  # its commit, from which the baseline adapter is taken


def read(path: str | Path) -> BaselinePin:
    """The pin in `path`; an empty pin when the file is missing or `{}`."""
    path = Path(path)
    if not path.exists():
        return BaselinePin()
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except ValueError as e:
        raise ReleaseError(f'{path}: not JSON ({e}); expected {{"tag": ..., "rev": ...}}') from e
    if not isinstance(data, dict):
        raise ReleaseError(f'{path}: expected an object {{"tag": ..., "rev": ...}}')
    unknown = sorted(set(data) - {"tag", "rev"})
    if unknown:
        raise ReleaseError(f"{path}: unknown key(s) {unknown}; known: ['rev', 'tag']")
    for key in ("tag", "rev"):
        if not isinstance(data.get(key, ""), str):
            raise ReleaseError(f"{path}: {key}: expected a string, got {data[key]!r}")
    pin = BaselinePin(data.get("tag", ""), data.get("rev", ""))
    if pin.rev and not pin.tag:
        raise ReleaseError(f"{path}: rev set without tag")
    return pin


def write(path: str | Path, tag: str, rev: str) -> None:
    fileio.write_json(path, {"tag": tag, "rev": rev})


class Baseline(NamedTuple):
    """What the `baseline` stage materialises: `kind` base or adapter; `tag` and `rev` (rev may
    still be a tag name); `source` names the setting they came from, for messages."""

    kind: str
    tag: str
    rev: str
    source: str


def resolve(cfg: params.Evaluate, pin_path: str) -> Baseline:
    """What `evaluate.baseline` and the pin ask for.

    `base`: the bare base. `previous`: the pinned release, the bare base when none is pinned yet.
    A tag such as `javis-v0.2`: that release."""
    if cfg.baseline == "base":
        return Baseline("base", "", "", "evaluate.baseline")
    if cfg.baseline == "previous":
        pin = read(pin_path)
        if not pin.tag:
            return Baseline("base", "", "", f"{pin_path} tag")
        if pin.rev:
            return Baseline("adapter", pin.tag, pin.rev, f"{pin_path} rev")
        return Baseline("adapter", pin.tag, pin.tag, f"{pin_path} tag")
    return Baseline("adapter", cfg.baseline, cfg.baseline, "evaluate.baseline")


def migrate(params_file: str | Path = params.PARAMS_FILE) -> bool:
    """An old params.yaml that still holds `evaluate.baseline_tag`/`baseline_rev`: their values
    into the pin file (unless it pins a release already), the two keys out of params.yaml (the
    rest, comments and layout kept). Run before params.yaml is loaded, by `javis` and the
    `baseline` stage; True when it migrated."""
    path = Path(params_file)
    if not path.exists():
        return False
    text = path.read_text(encoding="utf-8")
    if not any(key in text for key in OLD_KEYS):
        return False
    raw = yaml.safe_load(text)
    evaluate = raw.get("evaluate") if isinstance(raw, dict) else None
    if not isinstance(evaluate, dict) or not set(OLD_KEYS) & set(evaluate):
        return False
    tag, rev = (str(evaluate.get(key) or "") for key in OLD_KEYS)
    paths = raw.get("paths") if isinstance(raw.get("paths"), dict) else {}
    pin_path = paths.get("baseline_pin") or params.Paths.baseline_pin
    moved = bool(tag) and not read(pin_path).tag
    if moved:
        write(pin_path, tag, rev)
    fileio.write_text(path, without_keys(text, "evaluate", OLD_KEYS))
    log.warning(
        "%s: evaluate.baseline_tag/baseline_rev removed%s (the baseline pin is %s now: commit both)",
        path,
        f", their values {tag} {rev} moved to {pin_path}" if moved else "",
        pin_path,
    )
    return True


def without_keys(text: str, section: str, keys: tuple[str, ...]) -> str:
    """params.yaml text without the lines of `section.key` for each key (one-line values)."""
    key = re.compile(rf"^[ \t]+(?:{'|'.join(map(re.escape, keys))})[ \t]*:")
    out, current = [], None
    for line in text.splitlines(keepends=True):
        top = re.match(r"^([^\s#][^:]*):", line)
        if top:
            current = top[1]
        elif current == section and key.match(line):
            continue
        out.append(line)
    return "".join(out)
