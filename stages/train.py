"""train: LoRA (or QLoRA) SFT on the training split, then optionally DPO or KTO on top.

Reads  data/training/current/train.jsonl, val.jsonl (SFT records), preference_train.jsonl
       (train.method sft+dpo), kto_train.jsonl (sft+kto) (each hashed into javis_train.json);
       models/base/ (stages/base.py); models/init/ when train.init_from names a release
Writes models/adapter/: adapter_config.json, adapter_model.safetensors, the tokenizer with our
       chat template, javis_train.json (what it ran with), README.md (model card);
       metrics/train.json (numbers); dvclive/train/ (loss curves)
Run    python -m stages.train

load -> plan -> train -> save: every check on params and inputs runs before the model loads
(javis/model/train_plan.py), and so does the memory plan (javis/model/memory.py: the setup picked
by hardware and the micro-batch that fits train.max_memory_gb, printed; it refuses with advice
when one row cannot fit); SFT, then DPO/KTO on the SFT adapter, with checkpoints in
`train.checkpoint_dir/<run fingerprint>/` from which a rerun resumes (javis/model/training.py);
the adapter folder, its record and model card written whole (javis/model/card.py).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from javis.core import params, stage
from javis.model import card, launch, loading, train_plan, training

log = logging.getLogger("javis.train")


def main(
    train: params.Train, paths: params.Paths, persona: params.Persona, base: params.Base
) -> dict | None:
    """Train the adapter; returns its javis_train.json record (None from the launcher)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if launch.wanted(train):  # train.launcher: accelerate -> the ranks run this stage again
        launch.launch(train)
        return None
    import transformers

    loading.return_freed_memory()  # activations' memory goes back after each step (peak RSS)
    transformers.utils.logging.set_verbosity_warning()
    loading.quiet_libraries()
    loading.hide_library_progress_bars()  # the training's own display replaces them
    try:
        plan = train_plan.plan(train, paths, persona)
        started = time.perf_counter()
        log.info(
            "train: %d SFT records (%d of %d val), method %s, %s on %s (%s), %d threads",
            len(plan.rows["train"]),
            len(plan.rows["val"]),
            plan.val_available,
            train.method,
            plan.precision,
            plan.device,
            plan.precision_reason,
            plan.threads,
        )
        tokenizer = training.tokenizer_for(plan)
        training.drop_untrainable(plan, tokenizer)  # answers cut off by max_length: rejected
        memory_plan = training.plan_memory(plan, tokenizer)  # refuses before the model loads
        log.info("train: setup %s", card.setup_line(plan.setup))
        for line in memory_plan.lines():
            log.info("train: memory plan: %s", line)
    except train_plan.TrainError as e:
        raise SystemExit(str(e)) from None

    trained = training.fit(plan, tokenizer)

    record = card.train_record(plan, trained, tokenizer, base)
    if not launch.is_main():  # rank 0 writes the adapter, its record and the metrics
        return record
    card.write_adapter(plan.out_dir, trained.model, tokenizer, record, trained.state_dict)
    plan.acc.extra.update(card.train_metrics(plan, record))
    plan.acc.write(Path(paths.metrics) / "train.json")
    shutil.rmtree(trained.run_dir, ignore_errors=True)  # the adapter is out: checkpoints are done
    sft = record["sft"]
    wall = time.perf_counter() - started  # timings stay out of tracked outputs: logs/timings/
    stage.timing(
        train_seconds=round(wall, 1),
        tokens_per_second=round(record["tokens_trained"] / wall, 1) if wall > 0 else None,
    )
    log.info(
        "train: %s -> %s: %d steps, loss %s (%s), %d tokens, %.0f s wall (%.1f tokens/s)",
        train.method,
        paths.adapter,
        sft["steps"],
        sft["final_loss"],
        "no validation records"
        if sft.get("eval_loss") is None
        else f"val {sft['eval_loss']} on {len(plan.rows['val'])} records",
        record["tokens_trained"],
        wall,
        record["tokens_trained"] / wall if wall > 0 else 0.0,
    )
    return record


if __name__ == "__main__":
    stage.run(main, "train", "paths", "persona", "base")
