"""Deploy and rollback: serve a release without checking out the workspace.

`fetch_version` reads a tag's adapter from the DVC cache or remote into `models/adapters/<version>/`
(weights gitignored, beside the release record's metadata.yaml and README.md), `verify` checks it
against the record, and `deploy` switches the `models/current` symlink atomically, runs
`deploy.hook` and logs to models/deployments.jsonl. With `deploy.target: vllm | runpod` it first hands
the version to that engine (javis/release/engines.py, after javis/release/preflight.py's check); a
refusal switches nothing. A running `javis serve` reads models/current on every request: the
switch is its hot-swap notice. `rollback` walks back through the releases in
their order (v0.3 -> v0.2 -> v0.1, then says there is nothing older); `deploy` goes forward (without
a version: the newest release). See docs/DESIGN.md, "Versions".
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from javis.core import fileio, params
from javis.release import engines, preflight, vcs
from javis.release.errors import ReleaseError, ReleaseFetchError
from javis.release.names import releases, resolve
from javis.release.record import ADAPTERS, released_meta

CURRENT = Path("models/current")
DEPLOY_LOG = Path("models/deployments.jsonl")
RUNPOD_ENV = Path("models/runpod")  # the worker env javis wrote per version
RUNPOD_KEY_ENV = "RUNPOD_API_KEY"


def fetch_version(version: str, rev: str, paths: params.Paths) -> Path:
    """The tag's adapter files into models/adapters/<version>/ (from the DVC cache or remote),
    beside the git-tracked metadata.yaml and README.md of the release record."""
    dest = ADAPTERS / version
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch.", dir=ADAPTERS) as tmp:
        fetched = Path(tmp) / "adapter"
        try:
            vcs.fetch_adapter(rev, paths.adapter, fetched, version)
        except ReleaseFetchError as e:
            raise ReleaseError(f"{e}; try `dvc fetch --all-tags`") from e
        for f in fetched.iterdir():
            if f.name in ("README.md",):
                continue  # the release record's model card stays
            target = dest / f.name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(f, target)
    return dest


def verify(version: str, folder: Path, paths: params.Paths) -> dict:
    """The fetched weights match the release record; the adapter fits the current base."""
    from javis.model.loading import ModelError, check_adapter_base

    meta = released_meta(resolve(version)[1], version)
    want = (meta.get("adapter") or {}).get("sha256")
    weights = folder / "adapter_model.safetensors"
    if not weights.exists():
        raise ReleaseError(f"{weights} is missing after fetching {version}")
    have = fileio.sha256_file(weights)
    if want and want != have:
        # `dvc fetch` keeps an object the cache already has, corrupted or not: the copy must go first.
        obj = vcs.cache_object(resolve(version)[1], f"{paths.adapter}/adapter_model.safetensors")
        raise ReleaseError(
            f"{version}: adapter weights sha256 {have[:16]} differ from the release record's "
            f"{want[:16]}: the local DVC cache holds a corrupted copy; nothing was switched. "
            f"Delete {obj or 'that cache object'} and run `javis deploy {version}` again: "
            "it fetches a good copy from the DVC remote"
        )
    try:
        check_adapter_base(folder, paths.base, "deploy")
    except ModelError as e:
        raise ReleaseError(f"{version}: {e}") from e
    return meta


def deploy(version: str | None = None, *, log=print) -> Path:
    """Serve `version` (default: the newest release): fetch, verify, switch models/current
    atomically, hook, log."""
    p = params.load()
    v, rev = resolve(version or newest())
    folder = fetch_version(v.name, rev, p.paths)
    verify(v.name, folder, p.paths)
    previous = current_version()
    engine = engine_deploy(p, v.name, folder, previous, log) if p.deploy.target != "hook" else {}
    tmp = CURRENT.with_name(f".current.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(Path("adapters") / v.name, tmp)
    os.replace(tmp, CURRENT)
    hook = p.deploy.hook
    status = "no hook"
    if hook:
        env = {**os.environ, "JAVIS_VERSION": v.name, "JAVIS_ADAPTER": str(folder.resolve())}
        result = subprocess.run(hook, shell=True, env=env, capture_output=True, text=True)
        status = f"hook exit {result.returncode}"
        if result.returncode != 0:
            log(f"deploy.hook failed (exit {result.returncode}): {result.stderr.strip()[:500]}")
    entry = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "version": v.name,
        "commit": rev,
        "previous": previous,
        "by": vcs.git_user(),
        "hook": status,
        "target": p.deploy.target,
        **engine,
    }
    DEPLOY_LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(DEPLOY_LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
    log(
        f"deployed {v.name}: models/current -> adapters/{v.name} (was {previous or 'nothing'}; {status})"
    )
    return folder


def _warn_template_changed(new: Path, old: Path | None, log) -> None:
    """vLLM renders every LoRA with the one --chat-template it started with: a version whose
    template (persona prompt, tool format) differs from the previous one's is asked with the old."""
    name = "chat_template.jinja"
    if old is None or not (old / name).is_file() or not (new / name).is_file():
        return
    if (old / name).read_bytes() != (new / name).read_bytes():
        log(
            f"vllm: warning: {new.name}'s chat template differs from {old.name}'s, and vLLM renders "
            f"every adapter with the --chat-template it started with; restart it with "
            f"`javis serve --engine vllm` to serve {new.name} with its own"
        )


def engine_deploy(p: params.Params, version: str, folder: Path, previous: str | None, log) -> dict:
    """Hand `version` to deploy.target's engine (after the preflight); what to log about it.
    Raises (PreflightError, EngineError) before models/current is switched: the old version
    keeps serving everywhere."""
    cfg = p.deploy
    if cfg.target == "vllm":
        preflight.require(folder, "vllm", max_rank=cfg.max_lora_rank, base_path=p.paths.base)
        key = cfg.vllm_api_key or os.environ.get("VLLM_API_KEY", "")
        engines.vllm_switch(cfg.vllm_url, version, folder.resolve(), previous, key=key, log=log)
        _warn_template_changed(folder, ADAPTERS / previous if previous else None, log)
        return {"vllm": cfg.vllm_url}
    base_name = p.base.name or p.base.source
    preflight.require(folder, "runpod", max_rank=cfg.max_lora_rank, base_name=base_name)
    env = engines.runpod_env(base_name, version, cfg.runpod_volume_path, cfg.max_lora_rank, folder)
    env_file = RUNPOD_ENV / f"{version}.json"
    env_file.parent.mkdir(parents=True, exist_ok=True)
    fileio.write_json(env_file, env)
    key = os.environ.get(RUNPOD_KEY_ENV, "")
    if not key or not cfg.runpod_endpoint_id:
        log(
            f"runpod: worker env for {version} written to {env_file}; copy models/adapters/{version} "
            f"to {cfg.runpod_volume_path}/{version} on your network volume, then set "
            f"${RUNPOD_KEY_ENV} and deploy.runpod_endpoint_id to switch the endpoint (or paste "
            "the env into a template by hand)"
        )
        return {"runpod_env": str(env_file)}
    reuse = next(
        (e.get("runpod_template") for e in reversed(deploy_log()) if e.get("version") == version),
        None,
    )
    old, new = engines.runpod_switch(
        cfg.runpod_api, key, cfg.runpod_endpoint_id, version, env, cfg.runpod_image, reuse
    )
    log(f"runpod: endpoint {cfg.runpod_endpoint_id} now uses template {new} (was {old})")
    return {"runpod_template": new, "runpod_previous_template": old}


def deploy_log() -> list[dict]:
    """The lines of models/deployments.jsonl (unreadable ones skipped)."""
    if not DEPLOY_LOG.is_file():
        return []
    out = []
    for text in DEPLOY_LOG.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    return out


def current_version() -> str | None:
    """The version models/current serves, or None."""
    if not CURRENT.is_symlink():
        return None
    return Path(os.readlink(CURRENT)).name


def newest() -> str:
    """The newest release (what `javis deploy` without a version serves)."""
    history = releases()
    if not history:
        raise ReleaseError("no release yet: `javis release -m 'first version'` makes javis-v0.1")
    return history[-1][0].name


def older_release(now: str | None) -> str:
    """The release just before `now` in release order: `javis rollback` walks back through the
    releases (v0.3 -> v0.2 -> v0.1); `javis deploy` goes forward."""
    history = [v.name for v, _ in releases()]
    if not history:
        raise ReleaseError(
            "nothing to roll back to: no release yet (`javis release -m 'first version'`)"
        )
    if now is None:
        raise ReleaseError(
            f"nothing is deployed yet ({CURRENT} is absent), so there is nothing to roll back "
            f"from: `javis deploy <version>` serves one (releases: {', '.join(history)})"
        )
    if now not in history:
        raise ReleaseError(
            f"{CURRENT} serves {now}, which is not a release of this repository (no tag {now}); "
            f"name the version: `javis rollback <version>` (releases: {', '.join(history)})"
        )
    i = history.index(now)
    if i == 0:
        newer = ", ".join(history[1:])
        raise ReleaseError(
            f"{now} is the oldest release: nothing older to roll back to"
            + (f"; `javis deploy <version>` goes forward ({newer})" if newer else "")
        )
    return history[i - 1]


def rollback(version: str | None = None, *, log=print) -> Path:
    """Serve `version`, or the release just before the one deployed now (not the one deployed
    before it: two rollbacks go back two releases, never forward again)."""
    now = current_version()
    target = version or older_release(now)
    folder = deploy(target, log=log)
    if version is None:
        history = [v.name for v, _ in releases()]
        older = history[: history.index(target)]
        log(
            f"rolled back {now} -> {target}; "
            + (f"`javis rollback` again serves {older[-1]}, " if older else "it is the oldest; ")
            + f"`javis deploy` goes forward to the newest ({history[-1]})"
        )
    return folder
