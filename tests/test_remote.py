"""`javis train --on HOST` for real: OpenSSH's own server on 127.0.0.1 (its own config, host key and
authorized_keys), a second checkout as the "GPU machine", a bare git repository both share, a
local-folder DVC remote, the tiny model with a 2-step budget. The remote's commands run with the
test's venv (a `.venv` link in its checkout, activated by the shipped `train.remote_setup`)."""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import javis, set_params, sh, tiny_project

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
pytestmark = pytest.mark.skipif(
    not os.path.exists(SSHD),
    reason="OpenSSH's server is not installed (apt-get install openssh-server; .ci/run does)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    """One `javis train --on gpubox` of a tiny project; its output, both checkouts, its time."""
    host, ssh = ssh_host
    root = tmp_path_factory.mktemp("remote")
    local, remote = project_pair(root, tiny_base, ssh)
    start = time.monotonic()
    out = javis(local, "train", "--on", host, check=False)
    seconds = time.monotonic() - start
    print(f"javis train --on {host}: {seconds:.1f} s\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return {"out": out, "local": local, "remote": remote, "root": root, "seconds": seconds}


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


def test_lock_names_a_trained_adapter(trained):
    lock = yaml.safe_load((trained["local"] / "dvc.lock").read_text())
    assert "train" in lock["stages"], "dvc.lock has no train stage after the remote run"


def test_only_what_a_local_run_changes_is_changed(trained):
    changed = sh(trained["local"], "git", "status", "--porcelain").stdout.splitlines()
    paths = sorted(line[3:] for line in changed)
    allowed = {"dvc.lock", "dvclive/train/metrics.json"}
    odd = [p for p in paths if p not in allowed and not p.startswith(("metrics/", "dvclive/"))]
    assert odd == [], f"the remote run left these changes here: {odd}"


def test_second_run_retrains_nothing(trained, ssh_host):
    host, _ = ssh_host
    out = javis(trained["local"], "train", "--on", host, check=False)
    text = out.stdout + out.stderr
    assert out.returncode == 0, f"a second javis train --on failed:\n{text[-3000:]}"
    assert "train sft:" not in text, f"the second run trained again:\n{text[-3000:]}"


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
