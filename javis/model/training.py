"""The training loops: LoRA (or QLoRA) SFT with TRL, then optionally DPO or KTO on the SFT adapter.

`fit(plan, tokenizer)` runs the phases of a `train_plan.Plan` with checkpoints in
`train.checkpoint_dir/<run fingerprint>/` and DVCLive curves in `train.live_dir`:

- SFT: TRL's SFTTrainer with a PEFT LoRA on `train.target_modules` (or the init adapter, trainable),
  loss on assistant tokens only (the template's `{% generation %}` markers), rows in exact length
  buckets of the effective batch (javis/model/train_rows.py), each step run as forwards of at most
  the memory plan's tokens on a GPU (`token_batched`), as the longest row's micro-batch with gradient
  accumulation on a CPU (`plan_memory`, javis/model/memory.py), the setup's dtypes and
  checkpointing (`settle_lora` undoes TRL's bf16 cast of QLoRA weights); the adapter is saved to
  `sft_adapter/` beside its stats, so a rerun skips a finished SFT phase.
- DPO / KTO (`train.method` sft+dpo / sft+kto): DPOTrainer / KTOTrainer on the SFT adapter itself,
  loaded trainable without peft_config: TRL keeps a frozen copy as the reference, so one adapter
  results.

A rerun with the same params and data resumes from the latest whole checkpoint. On CPU the same
params and data give the same adapter bytes (seeded, deterministic kernels, fixed threads).

Each phase shows one progress display (`LiveCallback`, javis/core/progress.py): a bar on a
terminal, else a log line at each logging step with the loss, tokens/s and the time left; the last
step always logs (a run shorter than `train.logging_steps` still reports its loss), and the
validation between epochs has its own counts. The Trainer's own output (its tqdm bar, the raw
`{'loss': ...}` dicts of its PrinterCallback) is removed from every trainer (`_own_display`).

Over the ~400-line guide on purpose: the SFT, DPO and KTO trainers share one setup (precision, LoRA, length buckets, checkpoints, the live callback) that reads best beside the three loops it configures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from javis.core import fileio, params, progress
from javis.model import launch, loading, memory, template
from javis.model.train_plan import Plan, TrainError
from javis.model.train_rows import length_buckets, sft_lengths

log = logging.getLogger("javis.train")


@dataclass
class Trained:
    """What `fit` leaves: the trained model (a PeftModel), each phase's stats, its run folder."""

    model: Any
    sft: dict
    preference: dict | None
    run_dir: Path
    state_dict: dict | None = None
    """The adapter's full weights gathered from the ranks of FSDP or DeepSpeed (their model holds
    shards); None when `model` holds them whole."""


def tokenizer_for(pl: Plan) -> Any:
    """The base's tokenizer with our chat template and the persona's system prompt."""
    try:
        return loading.load_tokenizer(pl.base_dir, pl.persona.system_prompt)
    except template.TemplateError as e:
        raise TrainError(f"base.source: {e}") from None


def drop_untrainable(pl: Plan, tokenizer: Any) -> int:
    """Take out the training rows that `train.max_length` cuts before any assistant token (nothing
    to learn; TRL would drop them silently after our length buckets were cut, shifting every
    bucket behind them): rejected in the stage's accounting with their ids, before the model
    loads. Returns how many."""
    _, trained = sft_lengths(tokenizer, pl.rows["train"], pl.cfg.max_length)
    drop = [i for i, n in enumerate(trained) if n == 0]
    if not drop:
        return 0
    reason = f"no_answer_within_max_length (train.max_length {pl.cfg.max_length})"
    for i in drop:
        source, rid = pl.origins[i]
        pl.acc.kept(source, -1)
        pl.acc.rejected(source, reason)
        log.warning("train: record %s (%s) skipped: %s", rid, source, reason)
    keep = [i for i, n in enumerate(trained) if n > 0]
    pl.rows["train"] = [pl.rows["train"][i] for i in keep]
    pl.origins = [pl.origins[i] for i in keep]
    if not pl.rows["train"]:
        raise TrainError(
            f"train.max_length: {pl.cfg.max_length} tokens cut every training conversation before "
            "its first answer; raise it (the system prompt and tool schemas count too)"
        )
    return len(drop)


def plan_memory(pl: Plan, tokenizer: Any) -> memory.MemoryPlan:
    """The memory plan of the SFT phase (sets `pl.memory`): the micro-batch that fits
    `train.max_memory_gb` for the longest training row. Raises TrainError with advice when not one
    row fits. Runs before the model loads (reads config.json and the rows' lengths only)."""
    cfg = pl.cfg
    lengths, _ = sft_lengths(tokenizer, pl.rows["train"], cfg.max_length)
    hw = pl.hardware or memory.probe()
    budget = cfg.max_memory_gb or memory.default_budget_gb(hw)
    ranks = cfg.num_processes
    if ranks > 1 and hw.device == "cpu":
        budget = budget / ranks  # the ranks share one machine's RAM (each GPU rank has its own)
    shape = memory.ModelShape.from_config(
        json.loads((pl.base_dir / "config.json").read_text(encoding="utf-8"))
    )

    def fit(setup: memory.Setup) -> memory.MemoryPlan:
        return memory.plan(
            shape,
            setup,
            lora_r=cfg.lora_r,
            targets=cfg.target_modules,
            budget_gb=budget,
            effective_batch=rank_share(cfg),
            longest=max(lengths),
            micro_tokens_cap=memory.CPU_MICRO_TOKENS if hw.device == "cpu" else None,
        )

    mp = fit(pl.setup)
    if mp.problem and cfg.gradient_checkpointing == "auto" and not pl.setup.checkpointing:
        # auto: off on a CPU only while a row fits without it (fp32 activations are twice bf16's:
        # the demo's 1024-token rows fit 4 GB on an AMX CPU, not on one without)
        retry = fit(dataclasses.replace(pl.setup, checkpointing=True))
        if not retry.problem:
            need = mp.weights_bytes + mp.lora_bytes + mp.overhead_bytes
            need += mp.per_token_bytes * mp.longest
            why = (
                f"on (auto): one {mp.longest}-token row needs {need / memory.GB:.2f} GB "
                f"without it, over train.max_memory_gb {budget:g} GB"
            )
            ckpt = dataclasses.replace(
                pl.setup, checkpointing=True, reasons={**pl.setup.reasons, "checkpointing": why}
            )
            pl.setup, mp = ckpt, retry
    if mp.problem:
        raise TrainError(mp.problem)
    mp.by_tokens = token_micro_batches(pl)
    pl.memory = mp
    return mp


def fit(pl: Plan, tokenizer: Any) -> Trained:
    """SFT (skipped when a previous run of this plan finished it), then DPO or KTO."""
    from dvclive import Live

    cfg = pl.cfg
    if pl.memory is None:
        drop_untrainable(pl, tokenizer)
        plan_memory(pl, tokenizer)
    run_dir = Path(cfg.checkpoint_dir) / pl.fingerprint()
    resumed = run_dir.is_dir()
    launch.barrier()  # every rank has looked before rank 0 creates the folder
    # DVCLive and the progress display: rank 0 only (the other ranks train in silence)
    curves = (
        Live(dir=cfg.live_dir, dvcyaml=False, save_dvc_exp=False, resume=resumed)
        if launch.is_main()
        else contextlib.nullcontext()
    )
    state = None  # the adapter's weights gathered from FSDP/DeepSpeed shards (see full_state)
    with curves as live:
        done = run_dir / "sft_adapter" / "adapter_model.safetensors"
        if done.is_file() and (run_dir / "sft_stats.json").is_file():
            log.info("train: SFT already finished in %s; skipping to the next phase", run_dir)
            sft_stats = json.loads((run_dir / "sft_stats.json").read_text())
            model = load_for_training(pl, run_dir / "sft_adapter") if cfg.method == "sft" else None
        else:
            model, sft_stats, state = run_sft(pl, tokenizer, run_dir, live)
            if launch.is_main():
                fileio.write_json(run_dir / "sft_stats.json", sft_stats)
            launch.barrier()
        preference = None
        if cfg.method != "sft":
            del model
            model, preference, state = run_preference(pl, tokenizer, run_dir, live)
            kind = "dpo" if cfg.method == "sft+dpo" else "kto"
            preference.update(kind=kind, beta=getattr(cfg, kind).beta)
    return Trained(
        model=model, sft=sft_stats, preference=preference, run_dir=run_dir, state_dict=state
    )


def rank_share(cfg: params.Train) -> int:
    """Rows of each optimizer step one rank trains on: the effective batch (batch_size x
    grad_accum) split evenly over train.num_processes (params checks that it divides)."""
    return cfg.batch_size * cfg.grad_accum // cfg.num_processes


def steps_for(n_rows: int, lengths: list[int], cfg: params.Train) -> int:
    """Optimizer steps for this run: -1 (by epochs) unless max_steps or token_budget cap it."""
    per_step = cfg.batch_size * cfg.grad_accum
    steps_per_epoch = math.ceil(n_rows / per_step)
    steps = cfg.max_steps
    if cfg.token_budget:
        tokens_per_step = max(1.0, sum(lengths) / steps_per_epoch)
        budget_steps = max(1, math.ceil(cfg.token_budget / tokens_per_step))
        by_epochs = math.ceil(steps_per_epoch * cfg.epochs)
        if budget_steps < by_epochs and (steps == -1 or budget_steps < steps):
            log.info(
                "train: token_budget %d caps training at %d of %d steps",
                cfg.token_budget,
                budget_steps,
                by_epochs,
            )
            steps = budget_steps
    return steps


def common_args(pl: Plan, out: Path, steps: int, **kw: Any) -> dict:
    """TrainingArguments shared by the SFT, DPO and KTO phases (the setup's dtypes, optimizer and
    non-reentrant checkpointing: javis/model/memory.py)."""
    cfg, setup = pl.cfg, pl.setup
    return dict(
        output_dir=str(out),
        use_cpu=pl.device == "cpu",
        bf16=setup.compute == "bf16",
        fp16=setup.compute == "fp16",
        optim=setup.optimizer,
        max_steps=steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=2,
        logging_steps=cfg.logging_steps,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",
        dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup,
        weight_decay=cfg.weight_decay,
        # The new name (transformers 5): `gradient_checkpointing` warns it is deprecated.
        activation_checkpointing=setup.checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if setup.checkpointing else None,
        disable_tqdm=True,  # our display instead (LiveCallback); see _own_display
        log_level="warning",
        **kw,
    )


def load_for_training(pl: Plan, adapter: Path | None = None) -> Any:
    """The base in the setup's dtype (fp32 on a CPU, bf16/fp16 on a GPU, NF4 for QLoRA with the
    compute dtype), with `adapter` on top, trainable, when given."""
    from peft import PeftModel

    setup = pl.setup
    nf4 = setup.base_dtype == "nf4"
    model = loading.load_base(
        pl.base_dir,
        quantize="4bit" if nf4 else None,
        precision=setup.compute if nf4 else setup.base_dtype,
    )
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=True)
    return model


def settle_lora(trainer: Any, setup: memory.Setup) -> Any:
    """After the trainer is built: the LoRA parameters in the setup's dtype (TRL 1.16 casts them
    to bf16 whenever the base is quantized, whatever the compute dtype), and, under autocast,
    PEFT's cast of each LoRA input to the LoRA weights' dtype turned off: it copied every
    projection's input in fp32 (2.4 of 10.5 GB saved for the backward in the demo's longest
    batch) and made the layer outputs fp32; autocast runs those matmuls in the compute dtype."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    dtype = loading.torch_dtype(setup.lora_dtype)
    for name, param in trainer.model.named_parameters():
        if param.requires_grad and "lora_" in name and param.dtype != dtype:
            param.data = param.data.to(dtype)
    if setup.compute in ("bf16", "fp16"):
        for module in trainer.model.modules():
            if isinstance(module, BaseTunerLayer):
                module.cast_input_dtype_enabled = False
    return trainer


def sft_trainer(
    pl: Plan, tokenizer: Any, run_dir: Path, live: Any
) -> tuple[Any, list[int], list[int]]:
    """(SFTTrainer, tokens per row, trained tokens per row): a new LoRA, or the init adapter's."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    cfg = pl.cfg
    lengths, trained = sft_lengths(tokenizer, pl.rows["train"], cfg.max_length)
    steps = steps_for(len(lengths), lengths, cfg)
    mp = pl.memory or plan_memory(pl, tokenizer)
    effective = cfg.batch_size * cfg.grad_accum  # rows per optimizer step, whatever the micro-batch
    loading.set_determinism(cfg.seed, pl.threads)  # before the trainer: it creates the LoRA weights
    model = load_for_training(pl, pl.init_dir)
    peft_config = None
    if pl.init_dir is not None:
        _warn_init_lora_differs(model.peft_config["default"], cfg)
    else:
        peft_config = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            bias="none",
            target_modules=cfg.target_modules,
            task_type="CAUSAL_LM",
        )
    # Each optimizer step is one length bucket of `effective` rows. Token-sized micro-batches (a
    # GPU, or pl.micro_batches "tokens"): the data loader yields a rank's whole share of a step and
    # `TokenBatched.training_step` runs it as forwards of at most mp.max_tokens padded tokens
    # (eight short rows at once, the longest alone). Else, and under DeepSpeed (it steps its
    # optimizer inside every backward), the longest rows' fixed micro-batch with the Trainer's
    # gradient accumulation.
    by_tokens = mp.by_tokens  # plan_memory: token_micro_batches
    args = SFTConfig(
        **common_args(
            pl,
            run_dir / "sft",
            steps,
            learning_rate=cfg.learning_rate,
            num_train_epochs=cfg.epochs,
            per_device_train_batch_size=rank_share(cfg) if by_tokens else mp.micro_rows,
            per_device_eval_batch_size=mp.micro_rows,
            gradient_accumulation_steps=1 if by_tokens else mp.accumulation,
            max_length=cfg.max_length,
            assistant_only_loss=True,
            packing=False,
            # Our buckets (below) are already in training order; without them, HF's random order.
            train_sampling_strategy="sequential" if cfg.group_by_length else "random",
            eval_strategy="epoch" if pl.rows["val"] else "no",
        )
    )
    trainer_cls = token_batched(SFTTrainer, mp.micro_tokens) if by_tokens else SFTTrainer
    trainer = trainer_cls(
        model=model,
        args=args,
        processing_class=tokenizer,
        peft_config=peft_config,
        train_dataset=Dataset.from_list(
            [pl.rows["train"][i] for i in length_buckets(lengths, effective, cfg.seed)]
            if cfg.group_by_length
            else pl.rows["train"]
        ),
        eval_dataset=Dataset.from_list(pl.rows["val"]) if pl.rows["val"] else None,
        callbacks=_callbacks(live, "sft"),
    )
    return _own_display(settle_lora(trainer, pl.setup)), lengths, trained


def token_micro_batches(pl: Plan) -> bool:
    """Whether SFT runs each step as token-sized forwards: `pl.micro_batches` tokens, or auto on a
    GPU; never under DeepSpeed."""
    auto = pl.micro_batches == "auto" and pl.device == "cuda"
    return (pl.micro_batches == "tokens" or auto) and not loading.deepspeed_launched()


def split_step(inputs: dict, max_tokens: int, at_least: int = 1) -> list[dict]:
    """A collated step (right-padded rows: input_ids, labels, attention_mask) as micro-batches of
    at most `max_tokens` padded tokens (`memory.step_micro_batches`), each cut to its own longest
    row: short rows share a forward, long ones get their own."""
    import torch

    mask = inputs["attention_mask"]
    lengths = mask.sum(dim=1).tolist()
    width = mask.shape[1]
    out = []
    for rows in memory.step_micro_batches(lengths, max_tokens, at_least):
        idx = torch.tensor(rows, device=mask.device)
        keep = max(lengths[i] for i in rows)
        chunk = {}
        for key, value in inputs.items():
            if (
                isinstance(value, torch.Tensor)
                and value.dim() >= 1
                and value.shape[0] == len(lengths)
            ):
                value = value.index_select(0, idx)
                if value.dim() >= 2 and value.shape[1] == width:
                    value = value[:, :keep]
            chunk[key] = value
        out.append(chunk)
    return out


def token_batched(trainer_cls: type, max_tokens: int) -> type:
    """`trainer_cls` whose training step runs a step's rows as token-sized micro-batches
    (`split_step`). The loss is exact: TRL normalises each forward's summed loss by the step's
    trained tokens (`num_items_in_batch`, counted by the Trainer over the whole step and across
    ranks), so the micro-batches' gradients add up to the step's. Every rank runs as many forwards
    as the rank that needs most (each is a collective), gradients synchronised on the last one."""
    import torch

    class TokenBatched(trainer_cls):
        def training_step(self, model, inputs, num_items_in_batch=None):
            at_least = 1
            if self.accelerator.num_processes > 1:
                lengths = inputs["attention_mask"].sum(dim=1).tolist()
                need = len(memory.step_micro_batches(lengths, max_tokens))
                mine = torch.tensor([need], device=self.accelerator.device)
                at_least = int(self.accelerator.gather(mine).max())
            chunks = split_step(inputs, max_tokens, at_least)
            total = None
            for k, chunk in enumerate(chunks):
                last = k == len(chunks) - 1
                with contextlib.nullcontext() if last else self.accelerator.no_sync(model):
                    loss = super().training_step(model, chunk, num_items_in_batch)
                total = loss if total is None else total + loss
            return total

    TokenBatched.__name__ = TokenBatched.__qualname__ = f"TokenBatched{trainer_cls.__name__}"
    return TokenBatched


def run_sft(pl: Plan, tokenizer: Any, run_dir: Path, live: Any) -> tuple[Any, dict, dict | None]:
    """SFT phase; saves the adapter to run_dir/sft_adapter; returns (model, stats, the weights
    gathered from FSDP/DeepSpeed shards or None)."""
    cfg = pl.cfg
    trainer, lengths, trained = sft_trainer(pl, tokenizer, run_dir, live)
    stats = _train(trainer, run_dir / "sft")
    state = full_state(trainer)
    if launch.is_main():
        trainer.model.save_pretrained(
            run_dir / "sft_adapter", selected_adapters=["default"], state_dict=state
        )
    epochs_done = trainer.state.epoch or cfg.epochs
    stats.update(
        {
            "records": len(lengths),
            "tokens_per_epoch": sum(lengths),
            "assistant_tokens_per_epoch": sum(trained),
            "assistant_tokens_trained": round(sum(trained) * epochs_done),
            "eval_loss": _last(trainer.state.log_history, "eval_loss"),
        }
    )
    return trainer.model, stats, state


def full_state(trainer: Any) -> dict | None:
    """Under FSDP or DeepSpeed, the trained (LoRA) weights gathered whole on every rank (a
    collective: every rank calls it; rank 0 saves them); None when each process holds the whole
    model. FSDP2 keeps each parameter as a DTensor shard: `full_tensor()` per trainable parameter
    (the adapter only, not the base's gigabytes). DeepSpeed ZeRO: Accelerate's own gathering."""
    if trainer.is_deepspeed_enabled:
        return trainer.accelerator.get_state_dict(trainer.model)
    if not getattr(trainer, "is_fsdp_enabled", False):
        return None
    from torch.distributed.tensor import DTensor

    return {
        name: (p.full_tensor() if isinstance(p, DTensor) else p).detach().cpu()
        for name, p in trainer.model.named_parameters()
        if p.requires_grad
    }


def preference_trainer(pl: Plan, tokenizer: Any, run_dir: Path, live: Any) -> Any:
    """DPOTrainer or KTOTrainer on the SFT adapter in run_dir/sft_adapter, loaded trainable and
    given without peft_config: TRL then copies it into a frozen "ref" adapter (the reference)."""
    from datasets import Dataset

    cfg = pl.cfg
    kind = "dpo" if cfg.method == "sft+dpo" else "kto"
    pcfg: params.Preference = getattr(cfg, kind)
    rows = pl.rows[kind]
    loading.set_determinism(cfg.seed, pl.threads)
    model = load_for_training(pl, run_dir / "sft_adapter")
    steps = pcfg.max_steps
    kw = dict(
        learning_rate=pcfg.learning_rate,
        num_train_epochs=pcfg.epochs,
        beta=pcfg.beta,
        per_device_train_batch_size=pcfg.batch_size,
        max_length=cfg.max_length,
    )
    if kind == "dpo":
        from trl import DPOConfig, DPOTrainer

        args = DPOConfig(**common_args(pl, run_dir / kind, steps, **kw))
        trainer = DPOTrainer(
            model=model,
            args=args,
            processing_class=tokenizer,
            train_dataset=Dataset.from_list(rows),
            callbacks=_callbacks(live, kind),
        )
        return _own_display(settle_lora(trainer, pl.setup))
    else:
        import random

        from trl import KTOConfig, KTOTrainer

        rows = list(rows)
        random.Random(cfg.seed).shuffle(
            rows
        )  # KTO reads sequentially (its KL term pairs neighbours)
        args = KTOConfig(**common_args(pl, run_dir / kind, steps, **kw))
        trainer = KTOTrainer(
            model=model,
            args=args,
            processing_class=tokenizer,
            train_dataset=Dataset.from_list(rows),
            callbacks=_callbacks(live, kind),
        )
    return _own_display(settle_lora(trainer, pl.setup))


def _callbacks(live: Any, phase: str) -> list:
    """The phase's display and DVCLive curves: on rank 0 (the only process without a launcher)."""
    return [LiveCallback(live, phase)] if launch.is_main() else []


def _own_display(trainer: Any) -> Any:
    """Remove the Trainer's own progress output: with `disable_tqdm` it adds PrinterCallback,
    which prints every log as a raw dict (`{'loss': '1.83', ...}`) to stdout; without it a tqdm
    bar (ProgressCallback). LiveCallback shows the progress instead."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


def run_preference(
    pl: Plan, tokenizer: Any, run_dir: Path, live: Any
) -> tuple[Any, dict, dict | None]:
    """DPO or KTO phase on the SFT adapter (reference = the SFT model); returns (model, stats,
    the weights gathered from FSDP/DeepSpeed shards or None)."""
    kind = "dpo" if pl.cfg.method == "sft+dpo" else "kto"
    trainer = preference_trainer(pl, tokenizer, run_dir, live)
    stats = _train(trainer, run_dir / kind)
    stats["records"] = len(pl.rows[kind])
    stats["rewards_accuracy"] = _last(trainer.state.log_history, "rewards/accuracies")
    stats["rewards_margin"] = _last(trainer.state.log_history, "rewards/margins")
    return trainer.model, stats, full_state(trainer)


def last_complete_checkpoint(out: Path) -> str | None:
    """The newest checkpoint under `out` that was saved whole, or None.

    The Trainer writes a checkpoint folder in place and its trainer_state.json last; a process
    killed while saving (kill -9, power loss) leaves a folder without it, from which resuming
    fails on every rerun. Such a folder is deleted (by rank 0, while the other ranks wait) and the
    run resumes from the one before."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    found = []
    for folder in out.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if out.is_dir() else []:
        step = folder.name.rsplit("-", 1)[-1]
        if folder.is_dir() and step.isdigit():
            found.append((int(step), folder))
    for _, folder in sorted(found, reverse=True):
        if (folder / "trainer_state.json").is_file():  # transformers.trainer.TRAINER_STATE_NAME
            launch.barrier()
            return str(folder)
        if launch.is_main():
            log.warning(
                "train: %s was not saved whole (interrupted while saving); deleting it", folder
            )
            shutil.rmtree(folder, ignore_errors=True)
    launch.barrier()
    return None


def _train(trainer: Any, out: Path) -> dict:
    resume = last_complete_checkpoint(out)
    if resume:
        log.info("train: resuming from %s", resume)
    started = time.perf_counter()
    try:
        result = trainer.train(resume_from_checkpoint=resume)
    finally:  # an interrupted run must not leave a live progress bar behind
        for callback in trainer.callback_handler.callbacks:
            if hasattr(callback, "close_progress"):
                callback.close_progress()
    seconds = time.perf_counter() - started
    tokens = int(trainer.state.num_input_tokens_seen or 0)
    # Timings are logged, never recorded (a rerun would change the adapter folder's bytes).
    log.info(
        "train %s: %d tokens in %.0f s = %s tokens/s",
        out.name,
        tokens,
        seconds,
        f"{tokens / seconds:,.1f}" if seconds > 0 and tokens else "-",
    )
    return {
        "steps": trainer.state.global_step,
        "epochs": round(trainer.state.epoch or 0, 3),
        "train_loss": round(result.training_loss, 4),
        "final_loss": _last(trainer.state.log_history, "loss"),
        "tokens_trained": tokens,
        "resumed_from": Path(resume).name if resume else None,
    }


def LiveCallback(live: Any, phase: str) -> Any:  # noqa: N802 (a class factory: transformers imports lazily)
    """A TrainerCallback that shows the phase's progress (javis/core/progress.py: the bar moves at
    every step; a log line at the first step, at each logging step and at the last) and logs
    `<phase>/<metric>` to DVCLive (None: no DVCLive) at each logging step."""
    from transformers import TrainerCallback

    keys = (
        "loss",
        "eval_loss",
        "learning_rate",
        "grad_norm",
        "rewards/accuracies",
        "rewards/margins",
        "kl",
    )

    class _Live(TrainerCallback):
        steps: progress.Progress | None = None  # the phase's display
        validating: progress.Progress | None = None  # the validation's, while it runs
        val_records = 0
        tokens_at_start = 0
        loss: float | None = None

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            self.close_progress()
            self.tokens_at_start = int(state.num_input_tokens_seen or 0)
            self.steps = progress.Progress(
                f"train {phase}", state.max_steps, "steps", start=state.global_step, log=log
            )

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.global_step >= state.max_steps:
                # The last loss is logged too: a run with fewer steps than logging_steps (or
                # ending between two logging steps) would otherwise report `loss None`.
                control.should_log = True
            if self.steps is not None:
                first = state.global_step == self.steps.start + 1
                self.steps.update(state.global_step, self.info(state), line=first)

        def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):  # noqa: ANN001
            if self.validating is None:
                batches = len(eval_dataloader) if hasattr(eval_dataloader, "__len__") else 0
                dataset = getattr(eval_dataloader, "dataset", None)
                self.val_records = len(dataset) if hasattr(dataset, "__len__") else 0
                self.validating = progress.Progress(
                    f"train {phase}: validation", batches, "batches", log=log, every=15, keep=False
                )
            self.validating.advance()

        def on_evaluate(self, args, state, control, **kwargs):  # noqa: ANN001
            if self.validating is not None:
                self.validating.close()
                self.validating = None

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if not logs:
                return
            if isinstance(logs.get("loss"), int | float):
                self.loss = float(logs["loss"])
                if self.steps is not None:
                    self.steps.update(state.global_step, self.info(state))
            if isinstance(logs.get("eval_loss"), int | float):
                log.info(
                    "train %s: validation loss %.4f on %d records (%s)",
                    phase,
                    logs["eval_loss"],
                    self.val_records,
                    progress.duration(float(logs.get("eval_runtime") or 0)),
                )
            if live is None:
                return
            live.step = state.global_step
            for key in keys:
                if isinstance(logs.get(key), int | float):
                    live.log_metric(f"{phase}/{key}", float(logs[key]))
            live.make_summary()

        def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
            self.close_progress()

        def info(self, state: Any) -> str:
            """`loss 1.8312, 54 tokens/s`: the last logged loss, the speed of this run."""
            parts = [f"loss {self.loss:.4f}"] if self.loss is not None else []
            tokens = int(state.num_input_tokens_seen or 0) - self.tokens_at_start
            elapsed = time.perf_counter() - self.steps.started if self.steps else 0.0
            if tokens > 0 and elapsed > 0:
                parts.append(f"{tokens / elapsed:,.0f} tokens/s")
            return ", ".join(parts)

        def close_progress(self) -> None:
            for display in (self.validating, self.steps):
                if display is not None:
                    display.close()
            self.validating = self.steps = None

    return _Live()


def _last(history: list[dict], key: str) -> float | None:
    for entry in reversed(history):
        if key in entry:
            return round(float(entry[key]), 4)
    return None


def _warn_init_lora_differs(config: Any, cfg: params.Train) -> None:
    if config.r != cfg.lora_r or config.lora_alpha != cfg.lora_alpha:
        log.warning(
            "train.init_from: the adapter has r=%s alpha=%s; continuing with those "
            "(params say r=%s alpha=%s)",
            config.r,
            config.lora_alpha,
            cfg.lora_r,
            cfg.lora_alpha,
        )
