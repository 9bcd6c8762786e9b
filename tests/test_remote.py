"""`javis train --on HOST` for real: OpenSSH's own server on 127.0.0.1 (its own config, host key and
authorized_keys), a second checkout as the "GPU machine", a bare git repository both share, a
local-folder DVC remote, the tiny model with a 2-step budget. The remote's commands run with the
test's venv (a `.venv` link in its checkout, activated by the shipped `train.remote_setup`)."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import free_port, javis, set_params, sh, tiny_project

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
pytestmark = [
    pytest.mark.slow,  # tiny trainings over SSH: ~2 min in all on 2 cores
    pytest.mark.skipif(
        not os.path.exists(SSHD),
        reason="OpenSSH's server is not installed (apt-get install openssh-server; .ci/run does)",
    ),
]


@pytest.fixture(scope="module")
def ssh_host(tmp_path_factory):
    """An sshd of our own on a free 127.0.0.1 port; (host alias, the ssh command that reaches it)."""
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True
        )
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPidFile {d / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nLogLevel ERROR\n"
    )
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # its privilege-separation folder
    host_key = (d / "host_key.pub").read_text().split()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    (d / "ssh_config").write_text(
        f"Host gpubox\n  HostName 127.0.0.1\n  Port {port}\n  User {getpass.getuser()}\n"
        f"  IdentityFile {d / 'client_key'}\n  IdentitiesOnly yes\n  BatchMode yes\n"
        f"  UserKnownHostsFile {d / 'known_hosts'}\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n"
    )
    server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")])
    ssh = f"ssh -F {d / 'ssh_config'}"
    deadline = time.monotonic() + 20
    while subprocess.run([*ssh.split(), "gpubox", "true"], capture_output=True).returncode != 0:
        assert server.poll() is None, f"sshd exited with {server.returncode}"
        assert time.monotonic() < deadline, "sshd did not accept a login within 20 s"
        time.sleep(0.2)
    yield "gpubox", ssh
    server.terminate()
    server.wait(timeout=10)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def project_pair(root: Path, tiny_base: Path, ssh: str, **train) -> tuple[Path, Path]:
    """(this machine's checkout, the GPU machine's checkout) of one tiny project sharing a bare git
    repository (`origin`) and a local-folder DVC remote."""
    local = tiny_project(root / "local", tiny_base)
    set_params(
        local,
        train={
            "remote_ssh": ssh,
            "remote_dir": str(root / "gpu" / "javis"),
            "remote_require_gpu": False,
            **train,
        },
    )
    sh(local, "dvc", "remote", "add", "-d", "store", str(root / "store"))
    sh(local, "git", "add", "-A")
    sh(local, "git", "commit", "-qm", "remote training settings")
    sh(root, "git", "init", "-q", "--bare", "-b", "main", "origin.git")
    sh(local, "git", "remote", "add", "origin", str(root / "origin.git"))
    sh(local, "git", "push", "-q", "origin", "main")
    remote = root / "gpu" / "javis"
    sh(root, "git", "clone", "-q", str(root / "origin.git"), str(remote))
    (remote / ".venv").symlink_to(Path(sys.executable).parent.parent)  # "the project installed"
    return local, remote


@pytest.fixture(scope="module")
def trained(ssh_host, tiny_base, tmp_path_factory):
    """One `javis train --on gpubox` of a tiny project, and the same commit trained here by plain
    `javis train` in a third checkout ("alone"); outputs, checkouts and both wall times."""
    host, ssh = ssh_host
    root = tmp_path_factory.mktemp("remote")
    local, remote = project_pair(root, tiny_base, ssh)
    alone = root / "alone"
    sh(root, "git", "clone", "-q", str(root / "origin.git"), str(alone))
    for empty in ("data/raw", "data/feedback"):  # the (empty) folders data/*.dvc track
        (alone / empty).mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    here = javis(alone, "train", check=False)
    alone_s = time.monotonic() - start
    start = time.monotonic()
    out = javis(local, "train", "--on", host, check=False)
    seconds = time.monotonic() - start
    print(f"javis train: {alone_s:.1f} s here, {seconds:.1f} s with --on {host} (same machine)")
    stage_s = {
        s: json.loads((remote / f"logs/timings/{s}.json").read_text())["seconds"]
        for s in ("base", "train", "evaluate")
        if (remote / f"logs/timings/{s}.json").is_file()
    }
    print(f"the stages' own time there: {stage_s}")
    print(f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    assert here.returncode == 0, f"javis train here failed:\n{here.stderr[-3000:]}"
    return {"out": out, "local": local, "remote": remote, "alone": alone, "seconds": seconds}


def test_remote_training_succeeds(trained):
    out = trained["out"]
    assert out.returncode == 0, (
        f"javis train --on failed:\n{out.stdout[-3000:]}\n{out.stderr[-4000:]}"
    )


def test_remote_progress_is_streamed_back(trained):
    text = trained["out"].stdout + trained["out"].stderr
    assert "train sft:" in text, f"the remote's training progress did not reach us:\n{text[-3000:]}"


def test_workspace_ends_up_to_date(trained):
    status = sh(trained["local"], sys.executable, "-m", "dvc", "status", "--json").stdout
    assert yaml.safe_load(status) == {}, f"dvc status here after the remote run: {status}"


def test_same_dvc_lock_both_sides(trained):
    here, there = trained["local"] / "dvc.lock", trained["remote"] / "dvc.lock"
    assert here.read_bytes() == there.read_bytes(), "dvc.lock here differs from the remote's"


@pytest.mark.parametrize(
    "path", ["models/adapter/adapter_model.safetensors", "metrics/eval.json", "metrics/train.json"]
)
def test_outputs_brought_back(trained, path):
    here, there = trained["local"] / path, trained["remote"] / path
    assert here.is_file(), f"{path} is not here after the remote run"
    assert sha256(here) == sha256(there), f"{path} here differs from the remote's"


def test_same_lock_as_training_here(trained):
    """The remote run's dvc.lock is the one training here writes: the same hashes of every output.
    Compared as data: DVC appends a stage's entry where it first ran it, and --on runs the stages
    before train (score_baseline among them) here first."""
    here, alone = trained["local"] / "dvc.lock", trained["alone"] / "dvc.lock"
    assert yaml.safe_load(here.read_text()) == yaml.safe_load(alone.read_text()), (
        "dvc.lock differs from training here"
    )


def test_same_changed_files_as_training_here(trained):
    committed = set(
        sh(trained["local"], "git", "show", "--name-only", "--format=", "HEAD").stdout.split()
    )
    assert "dvc.lock" in committed, f"--on did not commit the data stages' dvc.lock: {committed}"

    def changed(repo: Path) -> set[str]:
        lines = sh(repo, "git", "status", "--porcelain", "--untracked-files=all").stdout
        return {line[3:] for line in lines.splitlines()} - committed

    assert changed(trained["local"]) == changed(trained["alone"]), "git status differs"


def test_second_run_retrains_nothing(trained, ssh_host):
    """After committing what the run brought back (as its last line says), the same command has
    nothing to train."""
    host, _ = ssh_host
    sh(trained["local"], "git", "add", "-A")
    sh(trained["local"], "git", "commit", "-qm", "trained on gpubox")
    out = javis(trained["local"], "train", "--on", host, check=False)
    text = out.stdout + out.stderr
    assert out.returncode == 0, f"a second javis train --on failed:\n{text[-3000:]}"
    assert "train sft:" not in text, f"the second run trained again:\n{text[-3000:]}"


def remote_pids(folder: Path) -> list[int]:
    """Processes whose working folder is inside `folder` (the remote run's)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(Path(os.readlink(proc / "cwd"))).startswith(str(folder)):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_dropped_connection_resumes(ssh_host, tiny_base, tmp_path):
    """The connection dies after the remote's second checkpoint: the run there dies with it, and
    the next `javis train --on` resumes from that checkpoint and finishes."""
    host, ssh = ssh_host
    local, remote = project_pair(
        tmp_path, tiny_base, ssh, max_steps=8, save_steps=2, token_budget=0, logging_steps=10
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "javis.app.cli", "train", "--on", host],
        cwd=local,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 150
    while not list((remote / "models/.checkpoints").glob("**/checkpoint-2/trainer_state.json")):
        assert run.poll() is None, f"the first run ended ({run.returncode}) before a checkpoint"
        assert time.monotonic() < deadline, "no checkpoint on the remote within 150 s"
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)  # this side and its ssh client: the connection drops
    run.wait()
    deadline = time.monotonic() + 30
    while remote_pids(remote) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert remote_pids(remote) == [], "the remote run outlived its dropped connection"
    out = javis(local, "train", "--on", host, check=False)
    text = out.stdout + out.stderr
    assert out.returncode == 0, f"the run after the drop failed:\n{text[-3000:]}"
    assert re.search(r"resuming from \S*/checkpoint-\d+", text), f"no resume:\n{text[-3000:]}"
    status = sh(local, sys.executable, "-m", "dvc", "status", "--json").stdout
    assert yaml.safe_load(status) == {}, f"dvc status here after the resumed run: {status}"


def test_refused_without_a_gpu(ssh_host, tiny_base, tmp_path):
    host, ssh = ssh_host
    local, _ = project_pair(tmp_path, tiny_base, ssh, remote_require_gpu=True)
    out = javis(local, "train", "--on", host, check=False)
    assert out.returncode == 2, f"a remote without a GPU was not refused:\n{out.stderr[-2000:]}"
    assert "no CUDA GPU" in out.stderr, f"the refusal does not say why: {out.stderr[-1000:]}"
    assert "remote_require_gpu: false" in out.stderr, f"no way out named: {out.stderr[-1000:]}"


def test_refused_without_the_project(ssh_host, tiny_base, tmp_path):
    host, ssh = ssh_host
    local, remote = project_pair(tmp_path, tiny_base, ssh)
    empty = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(empty)], check=True)
    (remote / ".venv").unlink()
    (remote / ".venv").symlink_to(empty)  # a Python without torch, DVC, ...
    out = javis(local, "train", "--on", host, check=False)
    assert out.returncode == 2, (
        f"a remote without the project was not refused:\n{out.stderr[-2000:]}"
    )
    assert "lacks dvc, torch" in out.stderr, (
        f"the refusal does not name what is missing: {out.stderr}"
    )
    assert "pip install -e ." in out.stderr, (
        f"the refusal does not say what to install: {out.stderr}"
    )


def test_refused_without_a_checkout(ssh_host, tiny_base, tmp_path):
    host, ssh = ssh_host
    local, _ = project_pair(tmp_path, tiny_base, ssh, remote_dir=str(tmp_path / "nothing"))
    out = javis(local, "train", "--on", host, check=False)
    assert out.returncode == 2, (
        f"a remote without a checkout was not refused:\n{out.stderr[-2000:]}"
    )
    assert "not a javis checkout" in out.stderr, f"the refusal does not say why: {out.stderr}"
    assert "git clone" in out.stderr, f"the refusal does not say what to do: {out.stderr}"


def test_uncommitted_changes_refused(ssh_host, tiny_base, tmp_path):
    host, ssh = ssh_host
    local, _ = project_pair(tmp_path, tiny_base, ssh)
    set_params(local, train={"lora_r": 2})
    out = javis(local, "train", "--on", host, check=False)
    assert out.returncode == 2, f"uncommitted params were not refused:\n{out.stderr[-2000:]}"
    assert "params.yaml" in out.stderr, f"the refusal does not name the file: {out.stderr}"
