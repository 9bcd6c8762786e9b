"""evaluate: the candidate adapter and the baseline on the same test and regression examples.

Reads  data/training/current/test.jsonl (SFT conversations), data/training/current/regression.jsonl
       (the user's corrections), models/base, models/adapter (the candidate, with its tokenizer and
       chat template), models/baseline (stages/baseline.py: a release's adapter, or a marker saying
       the baseline is the bare base); params `evaluate`, `persona` (the names the identity probes
       look for), `clean` (the style scorer's rules)
Writes metrics/eval.json (numbers; git), metrics/eval_samples.jsonl and metrics/report.md (they hold
       user text: DVC-cached)
Run    python -m stages.evaluate

read -> load -> score both sides -> judge -> write: every input is checked before a model loads
(javis/model/eval_examples.py); one base carries both adapters, and each side gives the loss of
every reference answer and a greedy answer to every prompt and identity probe
(javis/model/eval_runner.py); the answers are judged for tool calls, style, language and closeness
to the corrections (javis/model/evaluation.py), optionally compared pairwise by an external judge
(javis/model/judge.py, `evaluate.judge`), and the win rate compares the two sides' reference
losses example by example. The report is javis/model/report.py.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from javis.core import fileio, params, stage
from javis.model import eval_examples, eval_runner, judge, loading, report
from javis.model import evaluation as ev

log = logging.getLogger("javis.evaluate")


def main(
    evaluate: params.Evaluate, paths: params.Paths, persona: params.Persona, clean: params.Clean
) -> dict:
    """Score the candidate and the baseline; returns metrics/eval.json's content."""
    started = time.perf_counter()
    loading.quiet_libraries()
    loading.hide_library_progress_bars()  # the stage's own display replaces them
    try:
        inputs = eval_examples.read_inputs(evaluate, paths)
        log.info(
            "evaluate: %d of %d test examples, %d of %d corrections; baseline: %s",
            len(inputs.test),
            inputs.test_available,
            len(inputs.regression),
            inputs.regression_available,
            inputs.baseline_source,
        )
        model, tokenizer = eval_runner.load(paths, inputs, evaluate.seed)
    except eval_examples.EvalError as e:
        raise SystemExit(str(e)) from None
    seconds = {"load": time.perf_counter() - started}

    runs = eval_runner.run_sides(model, tokenizer, inputs, evaluate)
    result, samples = eval_runner.compare(inputs, runs, evaluate, persona, clean, paths)
    hide = [s for s in (inputs.baseline_source,) if s != "base"]  # a version name: masked
    result["judge"], judged = judge.run(
        evaluate.judge, judge.pairs_from(samples), hide, evaluate.seed
    )
    samples += judged
    seconds |= runs.seconds | {"total": time.perf_counter() - started}
    result["seconds"] = {k: round(v, 2) for k, v in seconds.items()}

    metrics = Path(paths.metrics)
    with fileio.atomic_open(metrics / "eval_samples.jsonl") as f:
        for s in samples:
            f.write(fileio.dumps(s))
    fileio.write_text(
        metrics / "report.md",
        report.render_report(
            {**result, "rule_text": ev.WIN_RULE_TEXT, "candidate_source": paths.adapter},
            samples,
            top=evaluate.report_examples,
        ),
    )
    fileio.write_json(metrics / "eval.json", result)  # last: its presence means the stage finished
    c, b, wins = result["candidate"], result["baseline"], result["win_rate"]
    log.info(
        "evaluate: loss %.4f (candidate) vs %.4f (%s); win rate %.3f of %d; "
        "persona %s vs %s; %.1f s",
        c["loss"],
        b["loss"],
        inputs.baseline_source,
        wins["rate"],
        wins["n"],
        c["persona_recall"],
        b["persona_recall"],
        result["seconds"]["total"],
    )
    return result


if __name__ == "__main__":
    stage.run(main, "evaluate", "paths", "persona", "clean")
