"""Reliability of versions: kill -9 at each step, an S3 remote that goes away, rollback and restore.

One tiny project (the tiny random Llama, a few training steps) with a real S3 API as its DVC remote
(`moto_server` on 127.0.0.1) makes three releases through interruptions and remote faults. The
tests run in order on it, each checking one promise (a test whose step before failed is skipped);
`pytest -s` shows what each tried and what held.

The S3 server sits behind a TCP forwarder: stopping the forwarder is the server going away for
every client (connection refused; the forwarder can also cut every connection when the first object
upload starts, a server dying during `dvc push`), while moto keeps the objects of earlier releases
in memory for the rollback and fresh-clone checks that follow.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from helpers import copy_project, free_port, set_params, tiny_project, write_jsonl

BUCKET = "javis-reliability"
ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
for _k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "AWS_PROFILE"):
    ENV.pop(_k, None)


# --- helpers -----------------------------------------------------------------------------------------


def sh(
    repo: Path, *cmd: str, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    result = subprocess.run(list(cmd), cwd=repo, capture_output=True, text=True, env=env or ENV)
    if check:
        assert result.returncode == 0, (
            f"{' '.join(cmd)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def javis(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(repo, sys.executable, "-m", "javis.app.cli", *args, check=check)


def dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(repo, sys.executable, "-m", "dvc", *args, check=check)


def git_out(repo: Path, *args: str) -> str:
    return sh(repo, "git", *args).stdout.strip()


def tags(repo: Path) -> list[str]:
    return git_out(repo, "tag", "--list", "javis-v*").split()


def changed_stages(repo: Path) -> dict:
    """`dvc status --json`: stage -> what changed (empty when nothing would rerun)."""
    out = dvc(repo, "status", "--json").stdout
    return {k.split(":")[-1]: v for k, v in json.loads(out or "{}").items()}


def not_in_remote(repo: Path) -> dict:
    """`dvc status --cloud --json`: outputs whose objects the remote lacks."""
    return json.loads(dvc(repo, "status", "--cloud", "--json").stdout or "{}")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(repo: Path) -> dict[str, str]:
    """sha256 of a version's training data, adapter and metrics, by path."""
    files = {}
    for folder in ("data/training/current", "models/adapter", "metrics"):
        for path in sorted((repo / folder).rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                files[str(path.relative_to(repo))] = sha256(path)
    return files


def start(
    repo: Path, args: list[str], log: Path, kill_at: str = "", shim: Path | None = None
) -> subprocess.Popen:
    """Start a command in its own process group (so kill -9 reaches everything it started); output
    goes to `log` (a pipe left unread would block it). With `kill_at`, the git shim kills the group
    when the release reaches that step."""
    env = dict(ENV)
    if kill_at:
        env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"
        env["JAVIS_KILL_AT"] = kill_at
    with open(log, "wb") as out:
        return subprocess.Popen(
            args, cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_for(condition, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return bool(condition())
        time.sleep(0.05)
    return False


def kill9(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def make_shim(folder: Path) -> Path:
    """A `git` that SIGKILLs its whole process group (javis and what it started) at one step of a
    release, as a power cut there would: before the release commit, before the tag, or before the
    commit that opens the next version. Any other git command runs the real git."""
    folder.mkdir(parents=True, exist_ok=True)
    real = shutil.which("git")
    script = folder / "git"
    script.write_text(f"""#!/bin/sh
case "$JAVIS_KILL_AT:$1:$2:$4" in
  before-commit:commit:-q:Release*|before-tag:tag:-a:*|before-open:commit:-q:Open*) kill -9 0 ;;
esac
exec {real} "$@"
""")
    script.chmod(0o755)
    return folder


# --- the S3 server ----------------------------------------------------------------------------------


class Forwarder:
    """A TCP forwarder in front of the S3 server. `stop()` is the server going away (connection
    refused, open connections cut); `start(die_on_put=True)` cuts everything when the first object
    upload (`PUT`) arrives: a server dying in the middle of `dvc push`."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.sock: socket.socket | None = None
        self.conns: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.die_on_put = False
        self.died = threading.Event()
        self.requests = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, die_on_put: bool = False) -> None:
        self.die_on_put = die_on_put
        self.died.clear()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.sock = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def stop(self) -> None:
        with self.lock:
            sock, self.sock = self.sock, None
            conns, self.conns = self.conns, set()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.sock is not listener:
                    client.close()
                    upstream.close()
                    return
                self.conns |= {client, upstream}
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_client and data[:4] in (b"GET ", b"PUT ", b"HEAD", b"POST", b"DELE"):
                    self.requests += 1
                    if self.die_on_put and data.startswith(b"PUT "):
                        self.died.set()
                        self.stop()
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()


class S3:
    def __init__(self, client, forwarder: Forwarder) -> None:
        self.client = client
        self.forwarder = forwarder

    def count(self) -> int:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        return sum(len(page.get("Contents", [])) for page in pages)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    import boto3

    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto_server.log", "wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=ENV,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            break
        except OSError:
            assert server.poll() is None, "moto_server exited"
            assert time.monotonic() < deadline, "moto_server did not start"
            time.sleep(0.2)
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    forwarder = Forwarder(port)
    forwarder.start()
    yield S3(client, forwarder)
    forwarder.stop()
    server.terminate()
    server.wait(timeout=30)
    log.close()


# --- the chain of releases -------------------------------------------------------------------------

WEEK2 = [
    {
        "messages": [
            {"role": "user", "content": f"이번 주 {i}번째 할 일: {w} 언제 하면 좋을까?"},
            {
                "role": "assistant",
                "content": f"{w}은(는) {i % 5 + 1}시쯤 하시면 좋아요. 알림을 맞춰 둘게요.",
            },
        ]
    }
    for i, w in enumerate(
        ["빨래", "장보기", "운동", "독서", "청소", "요리", "산책", "공부", "정리", "통화"] * 4
    )
]


@pytest.fixture(scope="module")
def chain(tmp_path_factory, tiny_base, s3):
    root = tmp_path_factory.mktemp("reliability")
    repo = tiny_project(root / "repo", tiny_base)
    set_params(repo, evaluate={"max_examples": 2, "batch_size": 2, "max_new_tokens": 4})
    javis(repo, "init", "--remote", f"s3://{BUCKET}/store", "--endpoint", s3.forwarder.endpoint)
    assert (
        "endpointurl" in (repo / ".dvc/config.local").read_text()
    )  # the endpoint is local config, not git
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "S3 remote; two eval examples")
    return {
        "repo": repo,
        "root": root,
        "s3": s3,
        "shim": make_shim(root / "shim"),
        "snap": {},
        "done": set(),
    }


def need(chain: dict, step: str) -> None:
    if step not in chain["done"]:
        pytest.skip(f"needs the step {step!r} of an earlier test")


@pytest.mark.slow
def test_release_pushes_every_output_to_s3(chain):
    repo, s3 = chain["repo"], chain["s3"]
    started = time.perf_counter()
    out = javis(repo, "release", "-m", "first version")
    assert tags(repo) == ["javis-v0.1"], out.stdout + out.stderr
    objects = s3.count()
    assert objects > 0, "nothing was pushed to S3"
    missing = not_in_remote(repo)
    assert missing == {}, f"outputs the remote lacks: {missing}"
    chain["snap"]["javis-v0.1"] = snapshot(repo)
    chain["done"].add("v0.1")
    print(
        f"\njavis-v0.1 released to s3://{BUCKET}/store (moto) in {time.perf_counter() - started:.0f} s: "
        f"{objects} objects, `dvc status --cloud` clean"
    )


@pytest.mark.slow
def test_kill_during_training_leaves_no_finished_output(chain):
    """kill -9 of `dvc repro train` once a checkpoint is saved: the adapter is absent (not partial),
    `dvc status` shows train changed, no commit or tag appears; the rerun (in the next test's
    release) resumes from the checkpoint."""
    need(chain, "v0.1")
    repo = chain["repo"]
    write_jsonl(repo / "examples/raw/week2.jsonl", WEEK2)
    set_params(repo, train={"max_steps": 8, "save_steps": 2})
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "week 2 data; 8 training steps")
    head = git_out(repo, "rev-parse", "HEAD")
    log = chain["root"] / "repro-train.log"
    proc = start(repo, [sys.executable, "-m", "dvc", "repro", "train"], log)
    ckpts = repo / "models/.checkpoints"

    def saved() -> list[Path]:
        return [c for c in ckpts.glob("*/sft/checkpoint-*") if (c / "trainer_state.json").is_file()]

    started = time.perf_counter()
    assert wait_for(saved, proc, timeout=900), log.read_text()[-3000:]
    kill9(proc)
    killed_at = sorted(c.name for c in saved())
    changed = changed_stages(repo)
    assert "train" in changed, changed
    assert "evaluate" in changed, changed
    adapter = repo / "models/adapter"
    assert not (adapter / "adapter_model.safetensors").exists(), (
        "a partial adapter under its final name"
    )
    assert git_out(repo, "rev-parse", "HEAD") == head, "a killed training moved HEAD"
    assert tags(repo) == ["javis-v0.1"], tags(repo)
    chain["done"].add("killed-train")
    print(
        f"\nkill -9 of `dvc repro train` {time.perf_counter() - started:.0f} s in, with {killed_at} saved: "
        f"models/adapter absent, `dvc status` lists {sorted(changed)} as changed, HEAD and tags unchanged"
    )


def release_killed_at(chain: dict, step: str) -> str:
    """Run `javis release` until the git shim kills it at `step`; returns its output."""
    log = chain["root"] / f"release-{step}.log"
    proc = start(
        chain["repo"],
        [sys.executable, "-m", "javis.app.cli", "release", "-m", "week 2"],
        log,
        kill_at=step,
        shim=chain["shim"],
    )
    proc.wait(timeout=1200)
    text = log.read_text(errors="replace")
    assert proc.returncode == -signal.SIGKILL, (
        f"not killed at {step} (exit {proc.returncode}):\n{text[-3000:]}"
    )
    return text


@pytest.mark.slow
def test_release_killed_at_each_step_fully_happens_or_not_at_all(chain):
    """kill -9 of `javis release` after its push (before the commit), after the commit (before the
    tag), after the tag (before the next version is opened): each time `javis status` names the
    interrupted release, and the next `javis release` undoes a release that has no commit or
    finishes one that has; in the end one release commit, one tag, one CHANGELOG entry."""
    need(chain, "killed-train")
    repo = chain["repo"]
    head = git_out(repo, "rev-parse", "HEAD")
    rows = []

    # 1. After the push, before the commit: nothing committed, nothing tagged.
    text = release_killed_at(chain, "before-commit")
    assert (
        "resuming from" in text
    )  # the training killed in the test before resumed from its checkpoint
    assert "step 5/6: dvc push" in text
    assert git_out(repo, "rev-parse", "HEAD") == head, (
        "a release killed before its commit committed"
    )
    assert "javis-v0.2" not in tags(repo), tags(repo)
    dirty = git_out(repo, "status", "--porcelain")
    assert "CHANGELOG.md" in dirty  # the half-written record is there, to be undone
    status = javis(repo, "status").stdout
    assert (
        "INTERRUPTED RELEASE: javis-v0.2 was cut off before its commit (no commit, no tag)"
        in status
    ), status
    rows.append(("after push, before commit", "no commit, no tag", "undone by the next release"))

    # 2. The next release undoes that record, releases again, and is killed after its commit.
    text = release_killed_at(chain, "before-tag")
    assert "interrupted release of javis-v0.2 (cut off before its commit) was undone" in text
    release_commit = git_out(repo, "rev-parse", "HEAD")
    assert git_out(repo, "log", "-1", "--format=%s").startswith("Release javis-v0.2")
    assert "javis-v0.2" not in tags(repo)
    committed = git_out(repo, "show", "HEAD:CHANGELOG.md")
    assert committed.count("## javis-v0.2 ") == 1, (
        committed
    )  # the undo kept the notes from doubling
    status = javis(repo, "status").stdout
    assert (
        "INTERRUPTED RELEASE: javis-v0.2 was cut off after its commit and push, before its tag"
        in status
    ), status
    rows.append(("after commit, before tag", "commit without tag", "tagged by the next release"))

    # 3. The next release tags it and is killed while opening the next version.
    release_killed_at(chain, "before-open")
    assert "javis-v0.2" in tags(repo)
    assert git_out(repo, "rev-parse", "javis-v0.2^{commit}") == release_commit
    status = javis(repo, "status").stdout
    assert (
        "INTERRUPTED RELEASE: javis-v0.2 was cut off after its tag, before the next version was opened"
        in status
    )
    rows.append(
        (
            "after tag, before open-next commit",
            "tag, baseline not pinned",
            "opened by the next release",
        )
    )

    # 4. The next release finishes it; nothing else to do.
    out = javis(repo, "release", "-m", "week 2")
    assert "javis-v0.2 was finished" in out.stdout, out.stdout
    assert "released javis-v0.2" in out.stdout, out.stdout
    assert tags(repo) == ["javis-v0.1", "javis-v0.2"]
    assert git_out(repo, "rev-parse", "javis-v0.2^{commit}") == release_commit
    assert git_out(repo, "log", "-1", "--format=%s").startswith("Open the version after javis-v0.2")
    subjects = git_out(repo, "log", "--format=%s", f"{head}..HEAD").splitlines()
    assert len(subjects) == 2, subjects  # one release commit, one open-next commit
    pinned = json.loads((repo / "data/baseline.json").read_text())
    assert pinned["tag"] == "javis-v0.2", pinned
    assert pinned["rev"] == release_commit, pinned
    assert (repo / "CHANGELOG.md").read_text().count("## javis-v0.2 ") == 1
    assert git_out(repo, "status", "--porcelain") == ""
    assert "INTERRUPTED" not in javis(repo, "status").stdout
    assert not_in_remote(repo) == {}
    chain["snap"]["javis-v0.2"] = snapshot(repo)
    chain["done"].add("v0.2")
    print(
        "\nkill -9 of `javis release` (javis-v0.2) at three points; after each, `javis status` named it:"
    )
    for where, left, then in rows:
        print(f"  killed {where:36s} -> {left:26s} -> {then}")
    print(
        "  finally: 1 release commit, tag on it, 1 CHANGELOG entry, baseline pinned, workspace clean, "
        "`dvc status --cloud` clean"
    )


@pytest.mark.slow
def test_s3_down_or_dying_during_push_leaves_no_commit_and_no_tag(chain):
    need(chain, "v0.2")
    repo, s3 = chain["repo"], chain["s3"]
    fwd = s3.forwarder
    set_params(
        repo, train={"max_steps": 2, "seed": 7}
    )  # a new adapter, so the push has objects to upload
    sh(repo, "git", "commit", "-qam", "seed 7")
    head, before = git_out(repo, "rev-parse", "HEAD"), s3.count()
    changelog = (repo / "CHANGELOG.md").read_text()

    def nothing_happened(out: subprocess.CompletedProcess) -> None:
        assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
        assert "step 5/6 (dvc push)" in out.stderr, out.stdout[-2000:] + out.stderr[-2000:]
        assert "nothing was committed or tagged" in out.stderr
        assert git_out(repo, "rev-parse", "HEAD") == head, "a failed push committed"
        assert "javis-v0.3" not in tags(repo), tags(repo)
        assert not (repo / "models/adapters/javis-v0.3").exists()
        assert (repo / "CHANGELOG.md").read_text() == changelog
        assert "INTERRUPTED" not in javis(repo, "status").stdout

    fwd.stop()  # the server is gone: connection refused
    t = time.perf_counter()
    down = javis(repo, "release", "-m", "seed 7", check=False)
    down_s = time.perf_counter() - t
    nothing_happened(down)

    fwd.start(die_on_put=True)  # the server dies when the first object upload starts
    t = time.perf_counter()
    dying = javis(repo, "release", "-m", "seed 7", check=False)
    dying_s = time.perf_counter() - t
    assert fwd.died.is_set(), "no upload was attempted: the push had nothing to send"
    nothing_happened(dying)

    fwd.stop()
    fwd.start()  # back up
    up = javis(repo, "release", "-m", "seed 7")
    assert "released javis-v0.3" in up.stdout
    assert tags(repo) == ["javis-v0.1", "javis-v0.2", "javis-v0.3"]
    assert s3.count() > before, "the release pushed no new objects"
    missing = not_in_remote(repo)
    assert missing == {}, f"outputs the remote lacks: {missing}"
    assert (repo / "CHANGELOG.md").read_text().count("## javis-v0.3 ") == 1
    chain["snap"]["javis-v0.3"] = snapshot(repo)
    chain["done"].add("v0.3")
    print(
        f"\nS3 down: `javis release` failed at step 5/6 (dvc push) after {down_s:.0f} s, no commit, no tag, no "
        f"record files; S3 dying at the first upload: the same ({dying_s:.0f} s); back up: javis-v0.3 released, "
        f"{s3.count() - before} new objects, `dvc status --cloud` clean"
    )


@pytest.mark.slow
def test_rollback_to_each_release_restores_its_exact_adapter(chain):
    """Deploy and roll back across three releases: the served weights are, byte for byte, the ones
    recorded at release (metadata.yaml adapter.sha256, and the hash taken right after the release);
    also with the local DVC cache gone (then they come from S3)."""
    need(chain, "v0.3")
    repo = chain["repo"]
    names = ["javis-v0.1", "javis-v0.2", "javis-v0.3"]
    recorded = {
        v: yaml.safe_load(git_out(repo, "show", f"{v}:models/adapters/{v}/metadata.yaml"))[
            "adapter"
        ]["sha256"]
        for v in names
    }
    at_release = {v: chain["snap"][v]["models/adapter/adapter_model.safetensors"] for v in names}
    assert recorded == at_release
    assert len(set(recorded.values())) == 3, (
        "the three releases must have different adapters to tell apart"
    )
    served = repo / "models/current/adapter_model.safetensors"
    steps = []
    for v in names:
        javis(repo, "deploy", v)
        steps.append((f"deploy {v}", v, sha256(served)))
    javis(repo, "rollback")
    steps.append(("rollback", "javis-v0.2", sha256(served)))
    javis(repo, "rollback", "v0.1")
    steps.append(("rollback v0.1", "javis-v0.1", sha256(served)))
    # The local cache lost (a new disk): the weights come from the S3 remote.
    cache = repo / ".dvc/cache"
    shutil.move(cache, repo.parent / "cache-away")
    try:
        for v in ("javis-v0.3", "javis-v0.2"):
            (repo / f"models/adapters/{v}/adapter_model.safetensors").unlink()
            javis(repo, "deploy", v)
            steps.append((f"deploy {v} (no local cache)", v, sha256(served)))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.move(repo.parent / "cache-away", cache)
    # A corrupted object in the local cache: refused before the switch (tests/test_versions.py checks
    # the refusal); the error names the object, and doing what it says serves the right bytes again.
    obj = next(
        p
        for p in (cache / "files/md5").rglob("*")
        if p.is_file() and sha256(p) == recorded["javis-v0.1"]
    )
    obj.chmod(0o644)
    obj.write_bytes(obj.read_bytes()[:-16] + bytes(16))
    (repo / "models/adapters/javis-v0.1/adapter_model.safetensors").unlink()
    refused = javis(repo, "deploy", "javis-v0.1", check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "corrupted copy" in refused.stderr, refused.stderr
    assert obj.name in refused.stderr, refused.stderr
    assert os.readlink(repo / "models/current") == "adapters/javis-v0.2"  # nothing switched
    obj.unlink()
    javis(repo, "deploy", "javis-v0.1")
    steps.append(("deploy javis-v0.1 (cache object fixed)", "javis-v0.1", sha256(served)))
    wrong = [(what, want) for what, want, have in steps if have != recorded[want]]
    assert not wrong, wrong
    assert git_out(repo, "status", "--porcelain") == ""  # deploy never touches git
    print(
        "\n"
        + "\n".join(
            f"  {what:38s} serves {want}: sha256 {have[:16]} = recorded at release"
            for what, want, have in steps
        )
    )
    print(
        "  a corrupted cache object of javis-v0.1: deploy refused, named the object; deleted, deploy fetched "
        "a good copy from S3"
    )


@pytest.mark.slow
def test_fresh_clone_restores_each_tag_from_s3(chain):
    """A fresh `git clone` with the same S3 remote: `git checkout <tag>` then `dvc pull` restores that
    version's training data, adapter and metrics, byte for byte."""
    need(chain, "v0.3")
    repo = chain["repo"]
    clone = chain["root"] / "clone"
    sh(chain["root"], "git", "clone", "-q", str(repo), str(clone))
    dvc(
        clone, "remote", "modify", "--local", "store", "endpointurl", chain["s3"].forwarder.endpoint
    )
    rows = []
    for v in ("javis-v0.1", "javis-v0.2", "javis-v0.3"):
        sh(clone, "git", "checkout", "-q", v)
        t = time.perf_counter()
        dvc(clone, "pull")
        have, want = snapshot(clone), chain["snap"][v]
        differ = sorted(k for k in want if have.get(k) != want[k])
        assert not differ, (v, differ)
        rows.append((v, len(want), time.perf_counter() - t))
    print(
        "\nfresh clone + S3 remote: "
        + "; ".join(
            f"{v}: git checkout + dvc pull restored {n} files identical ({s:.0f} s)"
            for v, n, s in rows
        )
    )


# --- outside the chain -----------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_during_collect_leaves_no_partial_output(tmp_path):
    """kill -9 of `dvc repro collect` mid-stream (its temp file half written): no output under its
    final name, `dvc status` shows collect changed; the rerun completes and counts every line."""
    repo = copy_project(tmp_path / "repo")
    set_params(repo, collect={"persona_examples": False})  # collect reads exactly the n lines
    dvc(repo, "repro", "collect")
    n = 100_000
    with open(repo / "data/raw/big.jsonl", "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(
                json.dumps(
                    {
                        "messages": [
                            {
                                "role": "user",
                                "content": f"question {i}: what's the weather in Seoul",
                            },
                            {"role": "assistant", "content": f"answer {i}: sunny, 18 degrees."},
                        ]
                    }
                )
                + "\n"
            )
    log = tmp_path / "collect.log"
    proc = start(repo, [sys.executable, "-m", "dvc", "repro", "collect"], log)
    collected = repo / "data/collected"

    def half_written() -> list[Path]:
        return (
            [p for p in collected.glob(".sft.jsonl.*.tmp") if p.stat().st_size > 256_000]
            if collected.exists()
            else []
        )

    assert wait_for(half_written, proc, timeout=300), log.read_text()[-3000:]
    size = half_written()[0].stat().st_size
    kill9(proc)
    finals = [p.name for p in collected.glob("*.jsonl")]
    changed = changed_stages(repo)
    assert finals == [], finals  # the temp files were never renamed: nothing claims to be finished
    assert "collect" in changed, changed
    dvc(repo, "repro", "collect")
    m = json.loads((repo / "metrics/collect.json").read_text())
    lines = sum(1 for _ in open(collected / "sft.jsonl", "rb"))
    assert m["in"] == n, m
    assert m["kept"] + m["rejected"] == n, m
    assert lines == n, lines
    assert not list(collected.glob(".*.tmp"))  # DVC cleared the output folder before the rerun
    assert "collect" not in changed_stages(repo)
    print(
        f"\nkill -9 of `dvc repro collect` with {size / 1e6:.1f} MB of its temp file written: no output under "
        f"its final name, `dvc status` lists collect; rerun: {m['in']} lines in, {lines} records out, "
        "no temp files left, collect up to date"
    )


def test_a_checkpoint_cut_off_while_saving_is_dropped_on_resume(tmp_path):
    """The Trainer writes a checkpoint in place, trainer_state.json last; a kill while saving leaves
    a folder without it. Resuming from it failed on every rerun; it is deleted and the run resumes
    from the last whole one."""
    from javis.model.training import last_complete_checkpoint

    sft = tmp_path / "sft"
    for step, whole in ((2, True), (4, True), (6, False)):
        folder = sft / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "adapter_model.safetensors").write_bytes(b"weights")
        if whole:
            (folder / "trainer_state.json").write_text("{}")
    assert last_complete_checkpoint(sft) == str(sft / "checkpoint-4")
    assert not (sft / "checkpoint-6").exists(), "the cut-off checkpoint was kept"
    assert (sft / "checkpoint-2").exists(), "a whole checkpoint was deleted"
    assert last_complete_checkpoint(tmp_path / "none") is None
    print("\ncheckpoint-6 without trainer_state.json deleted; resume from checkpoint-4")


def test_an_interrupted_release_is_undone_or_left_to_a_person(workdir):
    """Without a model: a release cut off after writing its record (no commit) is undone exactly;
    one whose repository has moved on since is reported, never guessed at."""
    from javis.core import params
    from javis.release import transaction
    from javis.release.errors import ReleaseError
    from javis.release.names import Version
    from javis.release.record import record_paths
    from javis.release.transaction import State

    def git(*args: str) -> str:
        return sh(workdir, "git", *args, env=dict(os.environ)).stdout.strip()

    git("init", "-q", "-b", "main")
    (workdir / "CHANGELOG.md").write_text("# Releases\n\n## javis-v0.1 (2026-01-01)\n")
    git("add", "params.yaml", "CHANGELOG.md")
    git("commit", "-qm", "start")
    before, committed = git("rev-parse", "HEAD"), (workdir / "CHANGELOG.md").read_text()
    version = Version(0, 2)
    record = record_paths(version, params.load())
    record[-1].write_text(
        "# Releases\n\n## javis-v0.2 (2026-01-02)\n- half written\n" + committed[11:]
    )
    for path in record[:-1]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("written before the kill\n")
    transaction.marker_path().write_text(
        json.dumps({"version": version.name, "before": before, "message": "m"})
    )
    cut = transaction.interrupted()
    assert cut is not None, "the marker was not found"
    assert cut.state == State.UNCOMMITTED, cut
    said: list[str] = []
    repaired = transaction.repair(log=said.append)
    assert repaired is not None, "nothing was repaired"
    assert repaired.state == State.UNCOMMITTED, repaired
    assert repaired.version == "javis-v0.2", repaired
    assert (workdir / "CHANGELOG.md").read_text() == committed, "CHANGELOG.md was not restored"
    left = [str(p) for p in record[:-1] if p.exists()]
    assert left == [], f"record files left after the undo: {left}"
    assert not (workdir / "models/adapters/javis-v0.2").exists(), "the record folder was left"
    dirty = git("status", "--porcelain")
    assert dirty == "", f"the undo left changes: {dirty}"
    assert transaction.interrupted() is None, "the marker was left after the repair"

    transaction.marker_path().write_text(
        json.dumps({"version": version.name, "before": before, "message": "m"})
    )
    (workdir / "notes.txt").write_text("the user went on working\n")
    git("add", "notes.txt")
    git("commit", "-qm", "other work")
    cut = transaction.interrupted()
    assert cut is not None, "the marker was not found"
    assert cut.state == State.MOVED, cut
    with pytest.raises(ReleaseError, match="has new commits since"):
        transaction.repair(log=said.append)
    assert git("log", "-1", "--format=%s") == "other work"  # nothing reset
    print(
        f"\nuncommitted release undone ({said[0]!r}); a marker older than new commits is reported, not repaired"
    )
