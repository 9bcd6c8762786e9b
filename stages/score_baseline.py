"""score_baseline: the baseline's (and the bare base's) raw results on the eval items, once.

Reads  the same items as stages/evaluate.py (data/training/current/test.jsonl, regression.jsonl,
       the probe file and the forgetting sets: params evaluate), models/base, models/baseline (the
       baseline adapter or the marker saying the baseline is the bare base); params `evaluate`,
       `persona.system_prompt` (the chat template's default system prompt, as the candidate's)
Writes metrics/baseline_scores.jsonl (DVC-cached: holds answers): a header with the items'
       fingerprint and the baseline marker, then per item the baseline's NLL, tokens and answer,
       the bare base's NLL on the generic answers, and each KL prompt's target (the base's greedy
       answer) with the baseline's KL from the base on it
Run    python -m stages.score_baseline

Its own DVC stage so that DVC skips it when neither the baseline, the items nor the eval params
changed: retraining the candidate reruns only `evaluate`, which reads these scores
(javis/model/eval_runner.py `read_scores`: reused only for exactly the same items, tokenized the
same way).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from javis.core import params, progress, stage
from javis.model import eval_examples, eval_runner, loading

log = logging.getLogger("javis.evaluate")


def main(evaluate: params.Evaluate, paths: params.Paths, persona: params.Persona) -> None:
    started = time.perf_counter()
    loading.quiet_libraries()
    loading.hide_library_progress_bars()
    try:
        inputs = eval_examples.read_items(evaluate, paths)
        inputs.baseline = eval_examples.read_baseline(Path(paths.baseline))
        adapter = paths.baseline if inputs.baseline["kind"] == "adapter" else None
        if adapter:
            loading.check_adapter_base(paths.baseline, paths.base, "evaluate.baseline")
        model, _ = eval_runner.load(paths, adapter, evaluate.seed)
        # The candidate's template: the base's tokenizer with javis's template and this persona's
        # system prompt (stages/train.py saves exactly that beside the adapter).
        tokenizer = loading.load_tokenizer(paths.base, persona.system_prompt)
        eval_runner.encode_all(tokenizer, inputs.items)
    except (eval_examples.EvalError, loading.ModelError) as e:
        raise SystemExit(f"score_baseline: {e}") from None
    lines = eval_runner.baseline_side(
        model, tokenizer, inputs, evaluate, "default" if adapter else None, merge_last=True
    )
    out = Path(paths.metrics) / eval_runner.SCORES_FILE
    eval_runner.write_scores(out, inputs, lines)
    log.info(
        "score_baseline: %d items of %s scored into %s in %s",
        len(lines),
        inputs.baseline_source,
        out,
        progress.duration(time.perf_counter() - started),
    )


if __name__ == "__main__":
    stage.run(main, "evaluate", "paths", "persona")
