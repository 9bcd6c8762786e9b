"""The train stage in several processes (`train.launcher: accelerate`), on CPU with gloo.

A tiny random Llama, 16 distinct conversations, 4 rows per optimizer step, fp32. Two processes
against one at the same global batch:
- `python -m stages.train` starts `accelerate launch` itself (DVC's command is unchanged); the
  adapter, its record, metrics/train.json and the DVCLive curves are written once, by rank 0;
- DDP (deploy/accelerate/ddp.yaml): the ranks saw disjoint rows that together cover the epoch,
  with equal step counts, and each optimizer step's rows are the rows of that step in one process;
  the per-step loss equals one process's within 1e-4 (relative);
- FSDP (deploy/accelerate/fsdp.yaml, FSDP2; Accelerate enables FSDP only on accelerators, so
  tests/rank_probe.py lets it run on CPU): the same losses, and the adapter gathered from the
  shards equals DDP's;
- all ranks cut off after the first checkpoint: the next run resumes from it and ends as if
  never interrupted.
Every run has a timeout, so a rank that waits forever for the other fails the test.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ROOT

TIMEOUT = 240  # seconds per run: the two ranks each load torch, transformers and TRL

QA = [
    ("Who are you?", "I am JAVIS, Minjun's assistant."),
    ("너는 누구야?", "저는 민준님의 비서 JAVIS예요."),
    ("Remind me to call Mom at 7.", "Noted: call Mom at 7 tonight."),
    ("내일 아침 회의 몇 시야?", "내일 회의는 오전 9시 30분이에요."),
    ("What is on my list today?", "Laundry, groceries and a run."),
    ("오늘 할 일 알려 줘.", "빨래, 장보기, 그리고 운동이 있어요."),
    ("Book a table for two.", "Which day and time should I book for two?"),
    ("저녁 메뉴 추천해 줘.", "오늘은 된장찌개 어떠세요?"),
    ("How long is the drive to Busan?", "About four hours without traffic."),
    ("부산까지 기차로 얼마나 걸려?", "KTX로 2시간 40분쯤 걸려요."),
    ("Set a timer for ten minutes.", "Timer set: ten minutes."),
    ("알람 6시에 맞춰 줘.", "내일 오전 6시 알람을 맞췄어요."),
    ("Summarize my week in one line.", "Three meetings, two deadlines, one birthday."),
    ("이번 주 일정 요약해 줘.", "회의 세 개, 마감 두 개, 생일 하나예요."),
    ("Thanks!", "Anytime."),
    ("고마워.", "천만에요."),
]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def project(root: Path, base: Path, **train) -> Path:
    """A folder with params.yaml and the split's train.jsonl: what the train stage reads."""
    root.mkdir(parents=True)
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["paths"].update(base=str(base), training="data/training")
    params["train"].update(
        {
            "precision": "fp32",
            "lora_r": 4,
            "lora_alpha": 8,
            "learning_rate": 0.01,
            "epochs": 1.0,
            "batch_size": 4,
            "max_length": 400,
            "token_budget": 0,
            "max_val_examples": 0,
            "logging_steps": 1,
            "save_steps": 1000,
            "warmup": 0,
            "threads": 1,
            "accelerate_config": str(ROOT / "deploy/accelerate/ddp.yaml"),
        }
        | train
    )
    (root / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), "utf-8")
    write_jsonl(
        root / "data/training/train.jsonl",
        [
            {
                "id": f"r{i:02d}",
                "source": "examples",
                "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
            }
            for i, (q, a) in enumerate(QA)
        ],
    )
    return root


def env() -> dict:
    """The project and tests/ (tests/rank_probe.py runs as `-m rank_probe`) importable."""
    path = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def run(cmd: list[str], cwd: Path, extra: dict | None = None, check: bool = True) -> str:
    try:
        done = subprocess.run(
            cmd, cwd=cwd, env=env() | (extra or {}), capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{cmd} still running after {TIMEOUT} s (a rank waiting for the other?)\n{e}")
    if check:
        assert done.returncode == 0, f"{cmd}:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return done.stdout + done.stderr


def losses(repo: Path) -> dict[int, float]:
    """Per-step SFT loss from the DVCLive curve (one row per logged step)."""
    path = repo / "dvclive/train/plots/metrics/sft/loss.tsv"
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    steps = [int(r["step"]) for r in rows]
    assert len(steps) == len(set(steps)), f"a step logged twice (two writers?): {steps}"
    return {int(r["step"]): float(r["loss"]) for r in rows}


def worst(a: dict[int, float], b: dict[int, float]) -> float:
    """The largest relative difference of two loss curves (over the steps of `a`)."""
    return max(abs(b[s] - a[s]) / abs(a[s]) for s in a)


def probe(repo: Path, processes: int, config: str = "ddp", **extra: str) -> list[dict] | str:
    """tests/rank_probe.py under `accelerate launch`: each rank's micro-batches and adapter writes
    (with `RANK_PROBE_CRASH`, the launcher's output: the ranks stop after the first checkpoint)."""
    from javis.core import params
    from javis.model import launch

    out = repo / "probe"
    cfg = params.Train(launcher="accelerate", num_processes=processes,
                       accelerate_config=str(ROOT / f"deploy/accelerate/{config}.yaml"))  # fmt: skip
    cmd = launch.command(cfg, module="rank_probe")  # the stage's own launch, the probe as module
    said = run(cmd, repo, {"RANK_PROBE_OUT": str(out), "JAVIS_LAUNCHED": "1", **extra},
               check="RANK_PROBE_CRASH" not in extra)  # fmt: skip
    if "RANK_PROBE_CRASH" in extra:
        return said
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(processes)]


def steps_of(rank: dict) -> list[list[tuple]]:
    """The rows (token tuples) of each optimizer step of one rank."""
    acc, batches = rank["accumulation"], rank["batches"]
    return [
        sorted(tuple(r) for b in batches[k : k + acc] for r in b)
        for k in range(0, len(batches), acc)
    ]


def adapter(repo: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(repo / "models/adapter/adapter_model.safetensors")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_base) -> dict:
    root = tmp_path_factory.mktemp("ranks")
    two_procs = {"launcher": "accelerate", "num_processes": 2}
    one = project(root / "one", tiny_base)
    two = project(root / "two", tiny_base, **two_procs)
    fsdp = project(root / "fsdp", tiny_base, **two_procs,
                   accelerate_config=str(ROOT / "deploy/accelerate/fsdp.yaml"))  # fmt: skip
    cut = project(root / "cut", tiny_base, **two_procs, save_steps=2)
    single = probe(one, 1)[0]
    out_two = run([sys.executable, "-m", "stages.train"], two)
    crashed = probe(cut, 2, RANK_PROBE_CRASH="1")
    resumed = run([sys.executable, "-m", "stages.train"], cut)
    return {
        "one": one,
        "two": two,
        "out_two": out_two,
        "single": single,
        "ranks": probe(project(root / "probed", tiny_base, **two_procs), 2),
        "fsdp": fsdp,
        "fsdp_ranks": probe(fsdp, 2, "fsdp"),
        "cut": cut,
        "crashed": crashed,
        "resumed": resumed,
    }


def test_the_stage_starts_accelerate_itself(runs):
    assert "accelerate.commands.launch" in runs["out_two"], runs["out_two"][-2000:]


def test_the_record_says_two_processes(runs):
    record = json.loads((runs["two"] / "models/adapter/javis_train.json").read_text())
    assert record["processes"] == 2, record.get("processes")


def test_rank_zero_alone_writes_the_adapter(runs):
    assert [r["wrote"] for r in runs["ranks"]] == [1, 0]


def test_the_ranks_see_disjoint_rows(runs):
    a, b = ({tuple(row) for batch in r["batches"] for row in batch} for r in runs["ranks"])
    assert not a & b, f"{len(a & b)} rows on both ranks"


def test_the_ranks_cover_the_epoch(runs):
    rows = {tuple(row) for r in runs["ranks"] for batch in r["batches"] for row in batch}
    assert len(rows) == len(QA), f"{len(rows)} of {len(QA)} rows trained"


def test_the_ranks_take_equal_steps(runs):
    assert len(steps_of(runs["ranks"][0])) == len(steps_of(runs["ranks"][1])) == 4


def test_each_step_trains_the_rows_of_one_process(runs):
    joined = [sorted(x + y) for x, y in zip(*(steps_of(r) for r in runs["ranks"]), strict=True)]
    assert joined == steps_of(runs["single"])


def test_per_step_loss_equals_one_process(runs):
    one, two = losses(runs["one"]), losses(runs["two"])
    assert sorted(one) == sorted(two) == [1, 2, 3, 4]
    assert worst(one, two) <= 1e-4, f"{one} vs {two}"


def test_metrics_written_once(runs):
    metrics = json.loads((runs["two"] / "metrics/train.json").read_text())
    assert metrics["steps"] == 4, metrics


def test_fsdp_per_step_loss_equals_one_process(runs):
    one, fsdp = losses(runs["one"]), losses(runs["fsdp"])
    assert sorted(fsdp) == [1, 2, 3, 4]
    assert worst(one, fsdp) <= 1e-4, f"{one} vs {fsdp}"


def test_fsdp_adapter_gathered_from_shards_equals_ddp(runs):
    fsdp, ddp = adapter(runs["fsdp"]), adapter(runs["two"])
    assert sorted(fsdp) == sorted(ddp)
    assert max((fsdp[k] - ddp[k]).abs().max().item() for k in ddp) <= 1e-5


def test_fsdp_rank_zero_alone_writes_the_adapter(runs):
    assert [r["wrote"] for r in runs["fsdp_ranks"]] == [1, 0]


def test_a_run_cut_off_on_every_rank_stops(runs):
    assert "power cut after step 2" in runs["crashed"], runs["crashed"][-2000:]


def test_the_next_run_resumes_from_the_checkpoint(runs):
    record = json.loads((runs["cut"] / "models/adapter/javis_train.json").read_text())
    assert record["sft"]["resumed_from"] == "checkpoint-2", record["sft"]


def test_the_resumed_run_ends_as_if_never_cut_off(runs):
    one, resumed = losses(runs["one"]), losses(runs["cut"])
    assert worst({3: one[3], 4: one[4]}, resumed) <= 1e-4, f"{one} vs {resumed}"


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"num_processes": 2}, "train.num_processes: 2 needs train.launcher: accelerate"),
        (
            {"launcher": "accelerate", "num_processes": 3},
            "3 ranks cannot share batch_size x grad_accum = 8 rows per step evenly",
        ),
        ({"launcher": "torchrun"}, "train.launcher"),
    ],
)
def test_process_settings_that_cannot_work_are_refused(train, message):
    from javis.core import params

    with pytest.raises(params.ParamsError, match=message.replace(".", r"\.")):
        params.Train(**train)
