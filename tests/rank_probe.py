"""Run by tests/test_train_ranks.py under `accelerate launch` as `-m rank_probe` (not a test
module): the train stage as `python -m stages.train` runs it, with two observers: the rows each
rank's data loader yields (per optimizer step) and which rank writes the adapter folder, each
rank's to its own JSON file in $RANK_PROBE_OUT. $RANK_PROBE_CRASH stops every rank after the first
checkpoint; under an FSDP config, FSDP is let run on CPU (`fsdp_on_cpu`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from javis.core import stage
from javis.model import card, training
from stages import train as T

OUT = Path(os.environ["RANK_PROBE_OUT"])
RANK = int(os.environ.get("RANK", "0"))
seen: dict = {
    "rank": RANK,
    "world": int(os.environ.get("WORLD_SIZE", "1")),
    "batches": [],
    "wrote": 0,
}

_sft_trainer, _write_adapter = training.sft_trainer, card.write_adapter


def traced_sft_trainer(*args, **kwargs):
    trainer, lengths, trained = _sft_trainer(*args, **kwargs)
    loader_of = trainer.get_train_dataloader
    pad = trainer.processing_class.pad_token_id

    def traced_loader():
        loader = loader_of()

        class Traced:
            def __len__(self):
                return len(loader)

            def __getattr__(self, name):
                return getattr(loader, name)

            def __iter__(self):
                for batch in loader:
                    ids, mask = batch["input_ids"].tolist(), batch["attention_mask"].tolist()
                    rows = [
                        [t for t, m in zip(r, ms, strict=True) if m]
                        for r, ms in zip(ids, mask, strict=True)
                    ]
                    seen["batches"].append(rows)
                    yield batch

        return Traced()

    trainer.get_train_dataloader = traced_loader
    seen["accumulation"] = trainer.args.gradient_accumulation_steps
    seen["pad"] = pad
    return trainer, lengths, trained


def counted_write_adapter(*args, **kwargs):
    seen["wrote"] += 1
    return _write_adapter(*args, **kwargs)


def fsdp_on_cpu() -> None:
    """Accelerate turns FSDP on only for accelerators (GPU, XPU, ...), not for CPU processes on
    gloo, although torch's FSDP2 (`fully_shard`) shards on CPU: the probe lets it, so the FSDP
    code paths (sharded parameters, the full state dict gathered for the adapter) run here."""
    from accelerate.state import AcceleratorState
    from accelerate.utils import DistributedType

    init = AcceleratorState.__init__

    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        plugin = kwargs.get("fsdp_plugin")
        if plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            self.fsdp_plugin = plugin

    AcceleratorState.__init__ = patched


def crash_after_first_save() -> None:
    """Every rank stops right after the first checkpoint is saved (a power cut, on all ranks)."""
    from transformers import TrainerCallback

    class Crash(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            raise KeyboardInterrupt(f"power cut after step {state.global_step}")

    callbacks = training._callbacks
    training._callbacks = lambda live, phase: callbacks(live, phase) + [Crash()]


if os.environ.get("RANK_PROBE_CRASH"):
    crash_after_first_save()
if os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true":
    fsdp_on_cpu()
training.sft_trainer = traced_sft_trainer
card.write_adapter = counted_write_adapter
try:
    stage.run(T.main, "train", "paths", "persona", "base")
finally:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"rank{RANK}.json").write_text(json.dumps(seen))
