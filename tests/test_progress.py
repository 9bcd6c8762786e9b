"""javis/core/progress.py (one progress display: log lines when stderr is not a terminal, a rich bar
when it is), what the libraries may no longer print (javis/model/loading.py `quiet_libraries`), and
the per-stage time table of `javis metrics`."""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import warnings

import pytest

from javis.core import progress
from javis.model import loading

LOG = logging.getLogger("javis.test_progress")


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOG.name]


def test_progress_lines_when_stderr_is_not_a_terminal(caplog):
    assert not progress.is_terminal(), "pytest captures stderr: not a terminal"
    with caplog.at_level("INFO", logger=LOG.name):
        with progress.Progress("step", 4, "units", log=LOG) as shown:
            for i in range(1, 5):
                shown.update(i, f"loss {5 - i}")
    got = lines(caplog)
    assert len(got) == 4, f"one line per update: {got}"
    assert got[0].startswith("step: 1/4 units, loss 4, "), got[0]
    assert "left" in got[0], f"an unfinished step says the time left: {got[0]}"
    assert got[-1].startswith("step: 4/4 units, loss 1, "), got[-1]
    assert "left" not in got[-1], f"a finished step has no time left: {got[-1]}"


def test_every_throttles_lines_but_keeps_the_first_and_the_last(caplog):
    with caplog.at_level("INFO", logger=LOG.name):
        with progress.Progress("slow", 10, "tensors", log=LOG, every=3600) as shown:
            for _ in range(10):
                shown.advance()
    got = lines(caplog)
    assert [line.split(",")[0] for line in got] == ["slow: 1/10 tensors", "slow: 10/10 tensors"], (
        got
    )


def test_time_left_counts_from_the_start_of_a_resumed_run(caplog, monkeypatch):
    now = [100.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    shown = progress.Progress("train sft", 20, "steps", start=10, log=LOG, terminal=False)
    now[0] = 110.0
    shown.update(11)  # 1 step in 10 s since the resume: 9 steps left = 90 s
    assert shown.seconds_left() == pytest.approx(90.0), "steps before the resume do not count"


def test_on_a_terminal_a_bar_and_no_log_lines(caplog):
    from rich.console import Console

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with caplog.at_level("INFO", logger=LOG.name):
        with progress.Progress("evaluate candidate", 3, "answers", log=LOG, console=console) as bar:
            for _ in range(3):
                bar.advance()
    assert lines(caplog) == [], "the bar replaces the log lines"
    assert "evaluate candidate" in screen.getvalue(), screen.getvalue()
    assert "3/3" in screen.getvalue(), f"the bar shows the counts: {screen.getvalue()!r}"


def test_log_lines_during_a_bar_print_above_it():
    """A handler keeps the stderr it was made with; while the bar is live it writes through rich."""
    from rich.console import Console

    screen = io.StringIO()
    handler = logging.StreamHandler(sys.stderr)
    LOG.addHandler(handler)
    try:
        with progress.Progress(
            "train sft",
            2,
            "steps",
            log=LOG,
            console=Console(file=screen, force_terminal=True, width=100),
        ) as bar:
            LOG.warning("train: a warning while training")
            bar.advance(2)
        stream_after = handler.stream
    finally:
        LOG.removeHandler(handler)
    assert "train: a warning while training" in screen.getvalue(), screen.getvalue()
    assert stream_after is sys.stderr, "the handler writes to stderr again after the bar"


def test_track_yields_every_item(caplog):
    with caplog.at_level("INFO", logger=LOG.name):
        items = list(progress.track(range(3), "items", unit="things", log=LOG))
    assert items == [0, 1, 2], items
    assert lines(caplog)[-1].startswith("items: 3/3 things"), lines(caplog)


def test_duration_words():
    assert [progress.duration(s) for s in (4.4, 362, 3900)] == ["4 s", "6 min 02 s", "1 h 05 min"]


def test_a_library_tqdm_loop_shows_as_progress(tmp_path, monkeypatch, caplog):
    """The base stage's dequantisation: transformers loops `for t in tqdm(reader.tensors)`."""
    (tmp_path / "fake_gguf_lib.py").write_text(
        "from tqdm.auto import tqdm\n\n"
        "def dequantise(n):\n"
        "    return [t for t in tqdm(range(n), desc='Converting and de-quantizing GGUF tensors...')]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_gguf_lib", raising=False)
    with caplog.at_level("INFO", logger=LOG.name):
        with progress.tqdm_as_progress("fake_gguf_lib", "base: dequantising", "tensors", log=LOG):
            import fake_gguf_lib

            assert fake_gguf_lib.dequantise(3) == [0, 1, 2], "the loop still yields every item"
    assert lines(caplog)[-1].startswith("base: dequantising: 3/3 tensors"), lines(caplog)
    assert fake_gguf_lib.tqdm.__module__.startswith("tqdm"), "tqdm is restored after the block"


def test_the_gguf_module_still_loops_over_tqdm():
    """If transformers renames it, the base stage shows no dequantising progress: this says so."""
    import transformers.modeling_gguf_pytorch_utils as gguf

    from stages import base

    assert base.GGUF_MODULE == gguf.__name__, base.GGUF_MODULE
    assert hasattr(gguf, "tqdm"), "transformers' GGUF loader has no `tqdm` to show as progress"


# --- what the libraries may no longer print ------------------------------------------------------


def test_bitsandbytes_optional_kernel_warning_is_dropped_but_others_are_not(caplog):
    loading.quiet_libraries()
    bnb = logging.getLogger("bitsandbytes.backends.cpu.ops")
    with caplog.at_level("WARNING"):
        # as bitsandbytes 0.50 words it (backends/cpu/ops.py)
        bnb.warning(loading.BNB_KERNEL_MESSAGE + ": %s. Please ...", "No module named 'kernels'")
        bnb.warning("something else went wrong")
    assert loading.BNB_KERNEL_MESSAGE not in caplog.text, caplog.text
    assert "something else went wrong" in caplog.text, "its other warnings still show"


def test_library_future_warnings_are_silenced_but_ours_are_not():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        loading.quiet_libraries()
        for module in ("transformers.modeling_utils", "trl.trainer.sft_config", "javis.model.x"):
            warnings.warn_explicit("`x` is deprecated", FutureWarning, "f.py", 1, module=module)
    assert [str(w.message) for w in seen] == ["`x` is deprecated"], "only javis' own warning shows"


# --- javis metrics: the time per stage -----------------------------------------------------------


def test_javis_metrics_prints_the_time_of_each_stage_and_the_total(workdir, capsys, monkeypatch):
    from javis.app import cli

    metrics = workdir / "metrics"
    metrics.mkdir()
    timings = workdir / "logs" / "timings"
    timings.mkdir(parents=True)
    seconds = {"collect": 1.5, "clean": 2.0, "dedupe": 0.5, "split": 1.0, "train": 600.0}
    for stage, sec in seconds.items():
        record = {"in": 3, "kept": 3, "rejected": 0, "rejected_by_reason": {}}
        if stage == "split":
            record |= {
                "splits": {"sft": {"train": 1, "val": 1, "test": 1}},
                "leakage": {"exact": 0, "near": 0},
            }
        (metrics / f"{stage}.json").write_text(json.dumps(record))
        (timings / f"{stage}.json").write_text(json.dumps({"stage": stage, "seconds": sec}))
    eval_result = {"candidate": {"loss": 1.0}, "baseline": {"loss": 1.2}, "delta": {"loss": -0.2}}
    (metrics / "eval.json").write_text(json.dumps(eval_result))
    (timings / "evaluate.json").write_text(json.dumps({"stage": "evaluate", "seconds": 95.0}))
    assert cli.cmd_metrics(argparse.Namespace()) == 0, "metrics found"
    out = capsys.readouterr().out
    table = out[out.index("Time per stage") :]
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if "│" in line}
    assert "600.0" in rows["train"], rows["train"]
    assert "10 min 00 s" in rows["train"], rows["train"]
    assert "95.0" in rows["evaluate"], f"the evaluate stage's timing file: {rows['evaluate']}"
    assert "not run yet" in rows["base"], f"no timing file for base: {rows['base']}"
    assert "700.0" in rows["total"], f"the total of every stage: {rows['total']}"
    assert "86%" in rows["train"], f"train's share of the total: {rows['train']}"


def test_a_stage_writes_its_wall_time_to_the_untracked_timings_folder_not_to_metrics(workdir):
    """stage.run times every stage: seconds (and figures added with stage.timing) go to
    paths.timings, so the metrics in git stay the same bytes on every run."""
    from javis.core import stage

    def main(paths):
        stage.timing(tokens_per_second=12.5)
        return {"ok": True}

    assert stage.run(main, "paths") == {"ok": True}, "run returns main's result"
    record = stage.read_timing(workdir / "logs" / "timings", "test_progress")
    assert record is not None, "the stage's timing file is named after its module"
    assert isinstance(record["seconds"], float), record
    assert record["tokens_per_second"] == 12.5, record


def test_javis_metrics_times_every_stage_of_dvc_yaml_in_its_order():
    """A stage missing from the table (score_baseline was) hides its time from the total."""
    import yaml
    from helpers import ROOT

    from javis.app import cli

    stages = list(yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"])
    assert list(cli.TIMED_STAGES) == stages
