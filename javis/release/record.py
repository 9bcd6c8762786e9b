"""The release record: what a release commit holds besides its dvc.lock, and reading it back.

`models/adapters/<version>/metadata.yaml` (+ README.md, the model card), `models/configs/
training_v{X.Y}.yaml`, `data/training/<version>/{manifest.json,changelog.md}` and an entry in
CHANGELOG.md; user satisfaction is read live from the feedback files. See docs/DESIGN.md,
"Versions".
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import yaml

from javis.core import fileio, params
from javis.data import feedback as fb
from javis.data import forget
from javis.model.loading import BASE_INFO, TRAIN_INFO
from javis.release import vcs
from javis.release.names import Version, releases

ADAPTERS = Path("models/adapters")
CONFIGS = Path("models/configs")
CHANGELOG = Path("CHANGELOG.md")
SECTIONS = ("base", "train", "persona", "collect", "clean", "dedupe", "split", "evaluate")


def released_meta(rev: str, name: str) -> dict:
    """metadata.yaml of release `name` as committed at `rev` ({} when there is none)."""
    text = vcs.show(rev, str(ADAPTERS / name / "metadata.yaml"))
    return (yaml.safe_load(text) if text else None) or {}


def user_satisfaction(
    version: str, feedback: Path, forgotten: Path | None = None
) -> dict[str, Any]:
    """Mean rating (👍 = 5, 👎 = 1, or the explicit 1-5 score) of answers given by `version`;
    a rating changed or undone counts as it is now (javis/data/feedback.py); a rating `javis
    forget` removed (`forgotten`, default params `paths.forgotten`) doesn't count."""
    if forgotten is None:
        has_params = Path(params.PARAMS_FILE).exists()
        forgotten = Path((params.load().paths if has_params else params.Paths()).forgotten)
    gone = forget.load(forgotten)
    scores = []
    for obj in fb.current_lines(feedback):
        if obj.get("model_version") != version or forget.feedback_line_forgotten(obj, gone):
            continue
        score = obj.get("score")
        if isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5:
            scores.append(score)
        elif obj.get("rating") in ("good", "bad"):
            scores.append(5 if obj["rating"] == "good" else 1)
    if not scores:
        return {"mean": None, "n": 0, "text": "not rated yet"}
    mean = sum(scores) / len(scores)
    return {
        "mean": round(mean, 2),
        "n": len(scores),
        "text": f"{mean:.1f}/5 ({len(scores)} ratings)",
    }


def changes_from_previous(
    manifest: dict, result: dict, previous: str | None, p: params.Params, last_meta: dict | None
) -> list[str]:
    """Plain-language changes: data added/removed by source and reason, params changed, metric deltas."""
    changes = []
    for kind, sources in sorted((manifest.get("added") or {}).items()):
        for source, n in sorted(sources.items()):
            changes.append(f"{n} {kind} records added from {source}")
    for kind, reasons in sorted((manifest.get("removed") or {}).items()):
        for reason, n in sorted(reasons.items()):
            changes.append(f"{n} {kind} records removed ({reason})")
    if last_meta:
        old_t, new_t = last_meta.get("training", {}), training_summary(p, manifest)
        for key in ("method", "epochs", "learning_rate", "lora_r"):
            if old_t.get(key) != new_t.get(key):
                changes.append(f"training {key}: {old_t.get(key)} -> {new_t.get(key)}")
        if last_meta.get("base_model") != base_name(p):
            changes.append(f"base model: {last_meta.get('base_model')} -> {base_name(p)}")
    for key, d in sorted((result.get("delta") or {}).items()):
        if isinstance(d, float) and key in (
            "loss",
            "tool_call_accuracy",
            "style_consistency",
            "language_match",
            "kept_promises",
            "regression_chrf",
        ):
            changes.append(f"{key} {d:+.4f} vs {previous or 'the base model'}")
    return changes or ["no data or parameter changes"]


def base_name(p: params.Params) -> str:
    return p.base.name or p.base.source


def training_summary(p: params.Params, manifest: dict) -> dict[str, Any]:
    t = p.train
    lora = "QLoRA" if t.quantize == "4bit" else "LoRA"
    stages = t.method.upper().replace("+", " + ")
    return {
        "method": f"{lora} {stages}",
        "epochs": t.epochs,
        "learning_rate": t.learning_rate,
        "lora_r": t.lora_r,
        "data_count": manifest.get("data_count", 0),
    }


def source_counts(manifest: dict) -> list[str]:
    """'file (n)' per source of the SFT records trained on (train + val); they sum to data_count."""
    counts = manifest.get("trained_sources") or {}
    return [f"{source} ({n})" for source, n in sorted(counts.items()) if n]


def write_record(
    version: Version,
    p: params.Params,
    result: dict,
    previous: str | None,
    override: dict | None,
    message: str,
) -> list[Path]:
    """Write the release record files; returns the paths written (for the commit, or to undo)."""
    manifest = json.loads((Path(p.paths.training) / "manifest.json").read_text())
    last_meta = (released_meta(previous, previous) or None) if previous else None
    adapter = Path(p.paths.adapter)
    weights = adapter / "adapter_model.safetensors"
    train_info = (
        json.loads((adapter / TRAIN_INFO).read_text()) if (adapter / TRAIN_INFO).exists() else {}
    )
    cand = result.get("candidate", {})
    sat = user_satisfaction(version.name, Path(p.paths.feedback))
    meta: dict[str, Any] = {
        "version": version.number,
        "name": version.name,
        "created_at": dt.date.today().isoformat(),
        "base_model": base_name(p),
        "base_fingerprint": (train_info.get("base") or {}).get("fingerprint"),
        "training": training_summary(p, manifest),
        "data": {
            "sources": source_counts(manifest),
            "count": manifest.get("data_count", 0),
            "regression_cases": manifest.get("regression", 0),
        },
        "changes_from_previous": changes_from_previous(manifest, result, previous, p, last_meta),
        "evaluation": {
            "tool_accuracy": cand.get("tool_call_accuracy"),
            "style_consistency": cand.get("style_consistency"),
            "user_satisfaction": sat["mean"],
            "loss": cand.get("loss"),
            "kept_promises": cand.get("kept_promises"),
            "persona_recall": cand.get("persona_recall"),
            "win_rate_vs_previous": (result.get("win_rate") or {}).get("rate"),
            "baseline": previous or "base model",
        },
        "adapter": {
            "sha256": fileio.sha256_file(weights) if weights.exists() else None,
            "precision": train_info.get("precision"),
        },
        "message": message,
    }
    if override:
        meta["gate_override"] = override
    data_folder = Path(p.paths.training).parent / version.name
    written = record_paths(version, p)[:-1]  # CHANGELOG.md is added once its notes are written
    fileio.write_text(written[0], yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
    fileio.write_text(written[1], model_card(meta))
    config = {k: p.raw.get(k) for k in SECTIONS}
    fileio.write_text(
        written[2],
        f"# Training config of {version.name} (params.yaml as released)\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
    )
    for name in ("manifest.json", "changelog.md"):
        fileio.write_text(
            data_folder / name, (Path(p.paths.training) / name).read_text(encoding="utf-8")
        )
    notes = [f"## {version.name} ({meta['created_at']})", "", message or "", ""]
    notes += [f"- {c}" for c in meta["changes_from_previous"]]
    if override:
        notes.append(f"- gate overridden by {override['by']}: {override['why']}")
    old = CHANGELOG.read_text(encoding="utf-8") if CHANGELOG.exists() else "# Releases\n"
    head, _, rest = old.partition("\n")
    fileio.write_text(
        CHANGELOG, head + "\n\n" + "\n".join(n for n in notes if n is not None) + "\n" + rest
    )
    written.append(CHANGELOG)
    return written


def record_export(name: str, to: str, entry: dict) -> str | None:
    """Write `entry` (`{"to", "dtype", "files": [{"file", "sha256", "bytes"}]}`) as `exports.<to>`
    of the release record `models/adapters/<name>/metadata.yaml`; returns what to tell the user
    (an earlier export of it with other bytes, or that the record changed and wants a commit)."""
    path = ADAPTERS / name / "metadata.yaml"
    meta = (yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}
    exports = meta.setdefault("exports", {})
    earlier = exports.get(to)
    if earlier == entry:
        return f"byte-identical to the export recorded in {path}"
    exports[to] = entry
    fileio.write_text(path, yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
    if earlier:
        was = {f["file"]: f["sha256"] for f in earlier.get("files", [])}
        now = {f["file"]: f["sha256"] for f in entry.get("files", [])}
        changed = sorted(f for f in was.keys() | now.keys() if was.get(f) != now.get(f))
        return (
            f"not byte-identical to the export recorded before ({', '.join(changed)} differ: "
            f"another machine or library version?); {path} now records this one: commit it"
        )
    return f"recorded in {path} (exports.{to}): commit it to keep the record"


def record_paths(version: Version, p: params.Params) -> list[Path]:
    """The files a release record writes, CHANGELOG.md last (committed by the release, or undone)."""
    folder = ADAPTERS / version.name
    data_folder = Path(p.paths.training).parent / version.name
    return [
        folder / "metadata.yaml",
        folder / "README.md",
        CONFIGS / f"training_v{version.number}.yaml",
        data_folder / "manifest.json",
        data_folder / "changelog.md",
        CHANGELOG,
    ]


def model_card(meta: dict) -> str:
    ev = meta["evaluation"]
    lines = [
        f"# JAVIS {meta['version']} ({meta['name']})",
        "",
        f"A LoRA adapter for `{meta['base_model']}`, trained with {meta['training']['method']} on "
        f"{meta['training']['data_count']} records ({meta['created_at']}).",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in ev.items()]
    lines += ["", "## Changes from the previous version", ""] + [
        f"- {c}" for c in meta["changes_from_previous"]
    ]
    lines += [
        "",
        "Restore this version: `javis deploy "
        + meta["name"]
        + "` (serve it) or `git checkout "
        + meta["name"]
        + " && dvc pull` (the whole workspace).",
    ]
    return "\n".join(lines) + "\n"


def base_changed(last_rev: str, p: params.Params) -> bool:
    """Did the base model change since the last release (by fingerprint, else by name)?"""
    last = Version.parse(next(v.name for v, r in releases() if r == last_rev))
    meta = released_meta(last_rev, last.name)
    info_path = Path(p.paths.base) / BASE_INFO
    now = json.loads(info_path.read_text()).get("fingerprint") if info_path.exists() else None
    if meta.get("base_fingerprint") and now:
        return meta["base_fingerprint"] != now
    return meta.get("base_model") not in (None, base_name(p))


# --- reading versions --------------------------------------------------------------------------


def eval_at(rev: str) -> dict:
    text = vcs.show(rev, "metrics/eval.json")
    return json.loads(text) if text else {}


def version_rows(p: params.Params, deployed: str | None) -> list[dict]:
    """One row per release for `javis versions`; `deployed` is the version models/current serves."""
    rows = []
    for v, rev in releases():
        meta = released_meta(rev, v.name)
        ev = meta.get("evaluation") or {}
        sat = user_satisfaction(v.name, Path(p.paths.feedback))
        rows.append(
            {
                "version": v.name,
                "date": meta.get("created_at"),
                "base": meta.get("base_model"),
                "method": (meta.get("training") or {}).get("method"),
                "data": (meta.get("training") or {}).get("data_count"),
                "loss": ev.get("loss"),
                "tool_accuracy": ev.get("tool_accuracy"),
                "style": ev.get("style_consistency"),
                "persona": ev.get("persona_recall"),
                "satisfaction": sat["text"],
                "rating_mean": sat["mean"],  # None: not rated yet
                "ratings": sat["n"],
                "deployed": v.name == deployed,
                "commit": rev[:10],
            }
        )
    return rows
