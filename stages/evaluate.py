"""evaluate: the candidate adapter and the baseline on the same eval items.

Reads  data/training/current/test.jsonl (SFT conversations), data/training/current/regression.jsonl
       (the user's corrections), the probe file and the forgetting sets (params evaluate.probes,
       .generic, .kl_prompts; evalsets/ ships public ones), models/base, models/adapter (the
       candidate, with its tokenizer and chat template), metrics/baseline_scores.jsonl (the
       baseline's and the bare base's raw results: stages/score_baseline.py, cached by DVC, so an
       unchanged baseline is not rescored); params `evaluate`, `persona` (the names the identity
       probes look for), `clean` (the six-criteria scorer that judges style)
Writes metrics/eval.json (numbers, n per metric, forgetting; git; no timings: they are logged),
       metrics/eval_samples.jsonl (one line per eval item: the gate's input) and metrics/report.md
       (they hold user text: DVC-cached)
Run    python -m stages.evaluate

read -> load -> score the candidate -> judge -> write: every input is checked before a model loads
(javis/model/eval_examples.py: items, not conversations: each final answer, each tool-call turn,
each correction and its paraphrase, each probe, each generic item); the candidate's raw results
come from javis/model/eval_runner.py (one prefill per prompt for its loss and its answer); the
answers are judged per item and summed up by javis/model/eval_summary.py, optionally compared
pairwise by an external judge (javis/model/judge.py, `evaluate.judge`); javis/model/report.py
writes the report. When metrics/baseline_scores.jsonl was made for other items (a hand run), the
baseline is scored in this run instead, and the log says so.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from javis.core import fileio, params, progress, stage, text
from javis.model import eval_examples, eval_runner, eval_summary, judge, loading, report

log = logging.getLogger("javis.evaluate")


def main(
    evaluate: params.Evaluate, paths: params.Paths, persona: params.Persona, clean: params.Clean
) -> dict:
    """Score the candidate (and the baseline, unless cached); returns metrics/eval.json's content."""
    started = time.perf_counter()
    loading.quiet_libraries()
    loading.hide_library_progress_bars()  # the stage's own display replaces them
    try:
        inputs = eval_examples.read_inputs(evaluate, paths)
        log.info(
            "evaluate: %d test items (of %d conversations), %d tool-call items, %d corrections "
            "(+%d paraphrased), %d probes, %d generic, %d KL prompts; baseline: %s",
            len(inputs.test),
            inputs.test_available,
            len(inputs.of_set("tool")),
            len([i for i in inputs.regression if not i.paraphrase]),
            len([i for i in inputs.regression if i.paraphrase]),
            *(len(inputs.of_set(s)) for s in ("persona", "generic", "generic_kl")),
            inputs.baseline_source,
        )
        model, tokenizer = eval_runner.load(paths, paths.adapter, evaluate.seed)
        eval_runner.encode_all(tokenizer, inputs.items)
        cached = eval_runner.read_scores(Path(paths.metrics) / eval_runner.SCORES_FILE, inputs)
    except eval_examples.EvalError as e:
        raise SystemExit(str(e)) from None
    log.info("evaluate: loaded in %s", progress.duration(time.perf_counter() - started))

    if cached is None:
        adapter = None
        if inputs.baseline["kind"] == "adapter":
            model.load_adapter(paths.baseline, adapter_name="baseline")
            adapter = "baseline"
        # Scored as score_baseline scores it (merged last), so both ways give the same numbers;
        # the merged weights then hold the baseline: the candidate gets a fresh copy of the base.
        cached = eval_runner.baseline_side(
            model, tokenizer, inputs, evaluate, adapter, merge_last=adapter is not None
        )
        if adapter is not None:
            del model
            model, tokenizer = eval_runner.load(paths, paths.adapter, evaluate.seed)
            eval_runner.encode_all(tokenizer, inputs.items)
    for item in inputs.of_set("generic_kl"):
        item.target_ids = cached[item.id].get("target_ids") or item.target_ids
    raw = {
        "baseline": {k: v["baseline"] for k, v in cached.items() if "baseline" in v},
        "base": {k: v["base"] for k, v in cached.items() if "base" in v},
    }
    t0 = time.perf_counter()
    kl = eval_runner.kl_scores(
        model, inputs.items, {"candidate": "default"}, tokenizer.pad_token_id, evaluate.batch_size
    )
    eval_runner.merge(model, "default")  # the base's last use was the KL above
    raw["candidate"] = eval_runner.score_side(model, tokenizer, inputs.items, evaluate, "candidate")
    raw["candidate"] |= kl["candidate"]
    log.info("evaluate candidate: done in %s", progress.duration(time.perf_counter() - t0))

    lines = eval_summary.sample_lines(inputs, raw, evaluate, persona, clean)
    base_model = loading.read_info(paths.base, loading.BASE_INFO).get("id") or str(paths.base)
    result = eval_summary.result_of(lines, inputs, base_model)
    hide = [s for s in (inputs.baseline_source,) if s != "base"]  # a version name: masked
    result["judge"], judged = judge.run(
        evaluate.judge, judge.pairs_from(lines), hide, evaluate.seed
    )
    lines += judged
    metrics = Path(paths.metrics)
    with fileio.atomic_open(metrics / "eval_samples.jsonl") as f:
        for line in lines:
            f.write(fileio.dumps(line))
    fileio.write_text(
        metrics / "report.md",
        report.render_report(
            {**result, "candidate_source": paths.adapter}, lines, top=evaluate.report_examples
        ),
    )
    fileio.write_json(metrics / "eval.json", result)  # last: its presence means the stage finished
    c, b, n = result["candidate"], result["baseline"], result["n"]
    log.info(
        "evaluate: loss %s (candidate) vs %s (%s) on %d items; tool calls %s vs %s on %d; "
        "promises kept %s vs %s on %d; persona %s vs %s on %d; forgetting KL %s, NLL delta %s; "
        "%s in all",
        *(text.fmt(x, missing="–") for x in (c["loss"], b["loss"])),
        inputs.baseline_source,
        n["loss"],
        *(text.fmt(x, missing="–") for x in (c["tool_call_accuracy"], b["tool_call_accuracy"])),
        n["tool_call_accuracy"],
        *(text.fmt(x, missing="–") for x in (c["kept_promises"], b["kept_promises"])),
        n["kept_promises"],
        *(text.fmt(x, missing="–") for x in (c["persona_recall"], b["persona_recall"])),
        n["persona_recall"],
        *(
            text.fmt(x, missing="–")
            for x in (result["forgetting"]["kl_mean"], result["forgetting"]["nll_delta_mean"])
        ),
        progress.duration(time.perf_counter() - started),
    )
    return result


if __name__ == "__main__":
    stage.run(main, "evaluate", "paths", "persona", "clean")
