"""train: LoRA (or QLoRA) SFT on the training split, then optionally DPO or KTO on top.

Reads  data/training/current/train.jsonl, val.jsonl (SFT records), preference_train.jsonl
       (train.method sft+dpo), kto_train.jsonl (sft+kto) (each hashed into javis_train.json);
       models/base/ (stages/base.py); models/init/ when train.init_from names a release
Writes models/adapter/: adapter_config.json, adapter_model.safetensors, the tokenizer with our
       chat template, javis_train.json (what it ran with), README.md (model card);
       metrics/train.json (numbers); dvclive/train/ (loss curves)
Run    python -m stages.train

SFT is TRL's SFTTrainer with a PEFT LoRA on `train.target_modules`, loss on assistant tokens
only (our template's `{% generation %}` markers), batches bucketed by length. `train.method`
sft+dpo / sft+kto then runs DPOTrainer / KTOTrainer on the SFT adapter itself (loaded trainable,
no peft_config: TRL keeps a frozen copy as the reference), so one adapter results.
Every check on params and inputs runs before the model is loaded. Checkpoints go to
`train.checkpoint_dir/<run fingerprint>/` (outside the DVC out); a rerun with the same params and
data resumes from the latest one and skips a finished SFT phase. On CPU, the same params and data
give the same adapter_model.safetensors bytes (seeded, deterministic kernels, fixed threads).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from javis.core import fileio, params
from javis.model import loading as jm
from javis.model import template

log = logging.getLogger("javis.train")

SPLIT_FILES = {
    "train": "train.jsonl",
    "val": "val.jsonl",
    "dpo": "preference_train.jsonl",
    "kto": "kto_train.jsonl",
}


class TrainError(SystemExit):
    """Bad params or inputs, found before any long work; the message names the param."""


# --- records -> rows ----------------------------------------------------------------------------


def sft_row(record: dict) -> tuple[dict | None, str]:
    """(row for SFTTrainer, "") or (None, reason). Tools become one JSON string (Arrow-safe)."""
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return None, "no_messages"
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        return None, "no_assistant_turn"
    return {
        "messages": template.prepare_messages(messages),
        "tools": template.tools_json(record.get("tools")),
    }, ""


def dpo_row(record: dict) -> tuple[dict | None, str]:
    """(row for DPOTrainer: conversational prompt/chosen/rejected, "") or (None, reason)."""
    prompt, chosen, rejected = record.get("prompt"), record.get("chosen"), record.get("rejected")
    if isinstance(prompt, str):  # the brief's string form
        prompt = [{"role": "user", "content": prompt}]
    chosen, rejected = _answer(chosen), _answer(rejected)
    if not prompt or not chosen or not rejected:
        return None, "incomplete_pair"
    return {
        "prompt": template.prepare_messages(prompt),
        "chosen": template.prepare_messages(chosen),
        "rejected": template.prepare_messages(rejected),
        "tools": template.tools_json(record.get("tools")),
    }, ""


def kto_row(record: dict) -> tuple[dict | None, str]:
    """(row for KTOTrainer: prompt/completion/label, "") or (None, reason)."""
    prompt, completion = record.get("prompt"), _answer(record.get("completion"))
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
    if not prompt or not completion or not isinstance(record.get("label"), bool):
        return None, "incomplete_kto"
    return {
        "prompt": template.prepare_messages(prompt),
        "completion": template.prepare_messages(completion),
        "label": record["label"],
        "tools": template.tools_json(record.get("tools")),
    }, ""


def _answer(value: Any) -> list[dict] | None:
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    if isinstance(value, dict):
        return [value]
    return value if isinstance(value, list) and value else None


def read_rows(path: Path, to_row, acc: fileio.Accounting | None) -> list[dict]:
    """Rows of one split file (missing file = no rows); unusable records are counted, not trained."""
    rows: list[dict] = []
    if not path.is_file():
        return rows
    for record in fileio.iter_records(path):
        source = str(record.get("source", "?"))
        row, reason = to_row(record)
        if acc is not None:
            acc.seen(source)
            if row is None:
                acc.rejected(source, reason)
            else:
                acc.kept(source)
        if row is None:
            log.warning("train: %s: record %s skipped (%s)", path, record.get("id"), reason)
        else:
            rows.append(row)
    return rows


# --- the plan: everything checked before the model loads ----------------------------------------


@dataclass
class Plan:
    """What this run will do, resolved from params and inputs (recorded in javis_train.json)."""

    p: Any
    base_dir: Path
    out_dir: Path
    data_dir: Path
    rows: dict[str, list[dict]]
    acc: fileio.Accounting
    base_info: dict
    init_dir: Path | None
    precision: str
    precision_reason: str
    device: str
    threads: int
    data_hashes: dict[str, str | None] = field(default_factory=dict)

    @property
    def cfg(self) -> params.Train:
        return self.p.train

    def fingerprint(self) -> str:
        """Identity of the run: params, data, base and init adapter (names its checkpoint folder)."""
        blob = json.dumps(
            {
                "train": dataclasses.asdict(self.cfg),
                "base": self.base_info.get("fingerprint"),
                "persona": dataclasses.asdict(self.p.persona),
                "data": self.data_hashes,
                "init": _adapter_hash(self.init_dir),
                "precision": self.precision,
                "threads": self.threads,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan(p: Any) -> Plan:
    """Check params and inputs and resolve the run; raises TrainError with what to do."""
    cfg, paths = p.train, p.paths
    base_dir, data_dir = Path(paths.base), Path(paths.training)
    try:
        jm.check_base_folder(base_dir)
    except jm.ModelError as e:
        raise TrainError(f"train: {e}") from None
    base_info = jm.read_info(base_dir, jm.BASE_INFO)
    if not p.persona.system_prompt.strip():
        raise TrainError(
            "persona.system_prompt: empty; it is the chat template's default system message"
        )

    acc = fileio.Accounting("train")
    rows = {
        "train": read_rows(data_dir / SPLIT_FILES["train"], sft_row, acc),
        "val": read_rows(data_dir / SPLIT_FILES["val"], sft_row, None),
    }
    if not rows["train"]:
        raise TrainError(
            f"train: {data_dir / SPLIT_FILES['train']} has no trainable records (missing, empty, or none with an "
            "assistant turn); run `dvc repro split`, or add data to data/raw or data/feedback"
        )
    if cfg.method == "sft+dpo":
        rows["dpo"] = read_rows(data_dir / SPLIT_FILES["dpo"], dpo_row, None)
        if not rows["dpo"]:
            raise TrainError(
                f"train.method: sft+dpo needs preference pairs, but {data_dir / SPLIT_FILES['dpo']} has none; "
                "correct some 👎 answers (each correction makes a pair) or set train.method: sft"
            )
    if cfg.method == "sft+kto":
        rows["kto"] = read_rows(data_dir / SPLIT_FILES["kto"], kto_row, None)
        if not rows["kto"]:
            raise TrainError(
                f"train.method: sft+kto needs rated answers, but {data_dir / SPLIT_FILES['kto']} has none; "
                "rate some answers 👍/👎 or set train.method: sft"
            )
        if len(rows["kto"]) < cfg.kto.batch_size:
            raise TrainError(
                f"train.kto.batch_size: {cfg.kto.batch_size} > the {len(rows['kto'])} KTO records; lower it"
            )

    if cfg.quantize == "4bit":
        problem = jm.bitsandbytes_problem()
        if problem:
            raise TrainError(
                f"train.quantize: 4bit needs bitsandbytes, but {problem}; set train.quantize: none"
            )

    init_dir = resolve_init(cfg, Path(paths.init))
    if init_dir is not None:
        try:
            jm.check_adapter_base(init_dir, base_dir, "train.init_from")
        except jm.ModelError as e:
            raise TrainError(str(e)) from None

    dev = jm.device()
    if cfg.precision == "auto":
        precision, reason = jm.pick_precision(dev)
    else:
        precision, reason = cfg.precision, "set by train.precision"
    threads = cfg.threads or os.cpu_count() or 1
    hashes = {name: _file_hash(data_dir / f) for name, f in SPLIT_FILES.items()}
    # The manifest is not hashed: it is not a dependency (it names the previous release, which changes
    # after every release without changing a byte of what is trained on).
    return Plan(
        p=p,
        base_dir=base_dir,
        out_dir=Path(paths.adapter),
        data_dir=data_dir,
        rows=rows,
        acc=acc,
        base_info=base_info,
        init_dir=init_dir,
        precision=precision,
        precision_reason=reason,
        device=dev,
        threads=threads,
        data_hashes=hashes,
    )


def resolve_init(cfg: params.Train, init_path: Path) -> Path | None:
    """The adapter folder to continue from: `train.init_from` itself when it is an adapter folder,
    else the release adapter materialised in `paths.init`; None for a fresh adapter."""
    if not cfg.init_from:
        return None
    for candidate in (Path(cfg.init_from), init_path):
        if all((candidate / f).is_file() for f in jm.ADAPTER_FILES):
            return candidate
    raise TrainError(
        f"train.init_from: {cfg.init_from!r} is not an adapter folder and {init_path} holds no adapter "
        f"(missing {list(jm.ADAPTER_FILES)}); check the release tag exists (`javis versions`) and that its adapter "
        "is materialised there, or set train.init_from: '' to train from scratch"
    )


# --- training ------------------------------------------------------------------------------------


def sft_lengths(tokenizer: Any, rows: list[dict], max_length: int) -> tuple[list[int], list[int]]:
    """Tokens and assistant (trained) tokens per row, after truncation to `max_length`."""
    total, trained = [], []
    for row in rows:
        tools = json.loads(row["tools"]) if row.get("tools") else None
        enc = tokenizer.apply_chat_template(
            row["messages"],
            tools=tools,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        total.append(min(len(enc["input_ids"]), max_length))
        trained.append(sum(enc["assistant_masks"][:max_length]))
    return total, trained


def length_buckets(lengths: list[int], batch_size: int, seed: int) -> list[int]:
    """Row order for training: rows sorted by length cut into batches (so a batch pads little), the
    full batches in a seeded random order and the short one (when the rows do not divide evenly)
    last: the data loader cuts the order into batches again, and a short batch anywhere else would
    shift every batch after it across two buckets (it did: 21% padding instead of 2% over an epoch
    of the samples at batch 4). HF's group_by_length sampler (random mega-batches of 40, sorted
    inside) pads 29% on the sample data, random order 130%."""
    import random

    by_length = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    cut = len(by_length) - len(by_length) % batch_size
    batches = [by_length[k : k + batch_size] for k in range(0, cut, batch_size)]
    random.Random(seed).shuffle(batches)
    return [i for batch in batches for i in batch] + by_length[cut:]


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
    """TrainingArguments shared by the SFT, DPO and KTO phases."""
    cfg = pl.cfg
    return dict(
        output_dir=str(out),
        use_cpu=pl.device == "cpu",
        bf16=pl.precision == "bf16",
        fp16=False,
        max_steps=steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=2,
        logging_steps=cfg.logging_steps,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",
        gradient_checkpointing=cfg.gradient_checkpointing,
        dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup,
        weight_decay=cfg.weight_decay,
        disable_tqdm=not _is_tty(),
        **kw,
    )


def load_for_training(pl: Plan, adapter: Path | None = None) -> Any:
    """The base (fp32, or NF4 for QLoRA), with `adapter` on top, trainable, when given."""
    from peft import PeftModel

    cfg = pl.cfg
    model = jm.load_base(
        pl.base_dir, quantize=_q(cfg), precision="fp32" if cfg.quantize == "none" else pl.precision
    )
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=True)
    return model


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
    jm.set_determinism(cfg.seed, pl.threads)  # before the trainer: it creates the LoRA weights
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
    args = SFTConfig(
        **common_args(
            pl,
            run_dir / "sft",
            steps,
            learning_rate=cfg.learning_rate,
            num_train_epochs=cfg.epochs,
            per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.batch_size,
            gradient_accumulation_steps=cfg.grad_accum,
            max_length=cfg.max_length,
            assistant_only_loss=True,
            packing=False,
            # Our buckets (below) are already in training order; without them, HF's random order.
            train_sampling_strategy="sequential" if cfg.group_by_length else "random",
            eval_strategy="epoch" if pl.rows["val"] else "no",
        )
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        processing_class=tokenizer,
        peft_config=peft_config,
        train_dataset=Dataset.from_list(
            [pl.rows["train"][i] for i in length_buckets(lengths, cfg.batch_size, cfg.seed)]
            if cfg.group_by_length
            else pl.rows["train"]
        ),
        eval_dataset=Dataset.from_list(pl.rows["val"]) if pl.rows["val"] else None,
        callbacks=[LiveCallback(live, "sft")],
    )
    return trainer, lengths, trained


def run_sft(pl: Plan, tokenizer: Any, run_dir: Path, live: Any) -> tuple[Any, dict]:
    """SFT phase; saves the adapter to run_dir/sft_adapter; returns (model, stats)."""
    cfg = pl.cfg
    trainer, lengths, trained = sft_trainer(pl, tokenizer, run_dir, live)
    stats = _train(trainer, run_dir / "sft")
    trainer.model.save_pretrained(run_dir / "sft_adapter", selected_adapters=["default"])
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
    return trainer.model, stats


def preference_trainer(pl: Plan, tokenizer: Any, run_dir: Path, live: Any) -> Any:
    """DPOTrainer or KTOTrainer on the SFT adapter in run_dir/sft_adapter, loaded trainable and
    given without peft_config: TRL then copies it into a frozen "ref" adapter (the reference)."""
    from datasets import Dataset

    cfg = pl.cfg
    kind = "dpo" if cfg.method == "sft+dpo" else "kto"
    pcfg: params.Preference = getattr(cfg, kind)
    rows = pl.rows[kind]
    jm.set_determinism(cfg.seed, pl.threads)
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
            callbacks=[LiveCallback(live, kind)],
        )
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
            callbacks=[LiveCallback(live, kind)],
        )
    return trainer


def run_preference(pl: Plan, tokenizer: Any, run_dir: Path, live: Any) -> tuple[Any, dict]:
    """DPO or KTO phase on the SFT adapter (reference = the SFT model); returns (model, stats)."""
    kind = "dpo" if pl.cfg.method == "sft+dpo" else "kto"
    trainer = preference_trainer(pl, tokenizer, run_dir, live)
    stats = _train(trainer, run_dir / kind)
    stats["records"] = len(pl.rows[kind])
    stats["rewards_accuracy"] = _last(trainer.state.log_history, "rewards/accuracies")
    stats["rewards_margin"] = _last(trainer.state.log_history, "rewards/margins")
    return trainer.model, stats


def last_complete_checkpoint(out: Path) -> str | None:
    """The newest checkpoint under `out` that was saved whole, or None.

    The Trainer writes a checkpoint folder in place and its trainer_state.json last; a process
    killed while saving (kill -9, power loss) leaves a folder without it, from which resuming
    fails on every rerun. Such a folder is deleted and the run resumes from the one before."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    found = []
    for folder in out.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if out.is_dir() else []:
        step = folder.name.rsplit("-", 1)[-1]
        if folder.is_dir() and step.isdigit():
            found.append((int(step), folder))
    for _, folder in sorted(found, reverse=True):
        if (folder / "trainer_state.json").is_file():  # transformers.trainer.TRAINER_STATE_NAME
            return str(folder)
        log.warning("train: %s was not saved whole (interrupted while saving); deleting it", folder)
        shutil.rmtree(folder, ignore_errors=True)
    return None


def _train(trainer: Any, out: Path) -> dict:
    resume = last_complete_checkpoint(out)
    if resume:
        log.info("train: resuming from %s", resume)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - started
    tokens = int(trainer.state.num_input_tokens_seen or 0)
    return {
        "steps": trainer.state.global_step,
        "epochs": round(trainer.state.epoch or 0, 3),
        "train_loss": round(result.training_loss, 4),
        "final_loss": _last(trainer.state.log_history, "loss"),
        "tokens_trained": tokens,
        "seconds": round(seconds, 1),
        "tokens_per_second": round(tokens / seconds, 1) if seconds > 0 and tokens else None,
        "resumed_from": Path(resume).name if resume else None,
    }


def LiveCallback(live: Any, phase: str) -> Any:  # noqa: N802 (a class factory: transformers imports lazily)
    """A TrainerCallback that logs `<phase>/<metric>` to DVCLive at each logging step."""
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
        started = 0.0

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            self.started = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if not logs:
                return
            if args.disable_tqdm and "loss" in logs:  # no progress bar (not a terminal): one line
                elapsed = time.perf_counter() - self.started
                done, total = state.global_step, state.max_steps or 1
                eta = elapsed / max(done, 1) * (total - done)
                log.info(
                    "train %s: step %d/%d, loss %.4f, %s tokens, %.0f s elapsed, ~%.0f s left",
                    phase,
                    done,
                    total,
                    logs["loss"],
                    f"{int(state.num_input_tokens_seen or 0):,}",
                    elapsed,
                    eta,
                )
            if live is None:
                return
            live.step = state.global_step
            for key in keys:
                if isinstance(logs.get(key), int | float):
                    live.log_metric(f"{phase}/{key}", float(logs[key]))
            live.make_summary()

    return _Live()


# --- output -------------------------------------------------------------------------------------


def write_adapter(pl: Plan, model: Any, tokenizer: Any, record: dict, out: Path) -> None:
    """Write the adapter folder atomically (temp folder beside it, then renamed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)
    try:
        model.save_pretrained(tmp, selected_adapters=["default"])
        tokenizer.save_pretrained(tmp)
        fileio.write_json(tmp / jm.TRAIN_INFO, record)
        fileio.write_text(tmp / "README.md", model_card(record))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def model_card(r: dict) -> str:
    """A short README.md for the adapter folder."""
    t, base, sft = r["params"]["train"], r["base"], r["sft"]
    lines = [
        f"# {r['persona']} adapter (LoRA on {base['id']})",
        "",
        f"A LoRA adapter trained by javis (`python -m stages.train`) on {sft['records']} conversations "
        f"with method `{t['method']}`{' (4-bit base: QLoRA)' if t['quantize'] == '4bit' else ''}. "
        "Its version name is given at release (`javis release`, see metadata.yaml beside the release).",
        "",
        "| | |",
        "|---|---|",
        f"| base | {base['id']} ({base.get('kind')}, revision {base.get('revision') or '-'}, `{(base.get('fingerprint') or '-')[:24]}`) |",
        f"| LoRA | r={t['lora_r']}, alpha={t['lora_alpha']}, dropout={t['lora_dropout']}, modules={t['target_modules']} |",
        f"| SFT | lr {t['learning_rate']}, {sft['epochs']} epochs, {sft['steps']} steps, batch {t['batch_size']}x{t['grad_accum']}, max length {t['max_length']} |",
        f"| loss | train {sft['train_loss']}, last {sft['final_loss']}, val {sft.get('eval_loss')} |",
    ]
    if r.get("preference"):
        pref = r["preference"]
        lines.append(
            f"| {pref['kind'].upper()} | {pref['records']} records, beta {pref['beta']}, {pref['steps']} steps, "
            f"reward accuracy {pref.get('rewards_accuracy')} |"
        )
    lines += [
        f"| precision | {r['precision']} ({r['precision_reason']}) on {r['device']}, {r['threads']} threads |",
        f"| speed | {sft['tokens_trained']} tokens in {sft['seconds']} s = {sft['tokens_per_second']} tokens/s |",
        f"| init | {r['init_from'] or 'fresh adapter'} |",
        f"| data | train.jsonl sha256 `{(r['data']['train'] or '-')[:16]}` |",
        f"| seed | {t['seed']} |",
        "",
        "The tokenizer here carries the javis chat template (ChatML, tool calls as `<tool_call>` JSON, the",
        "persona's system prompt by default); use it, not the base's. Loading:",
        "",
        "```python",
        "from javis.model.loading import load_adapter, generate_batch",
        "model, tok = load_adapter('models/base', 'models/adapter')",
        "print(generate_batch(model, tok, [[{'role': 'user', 'content': 'Who are you?'}]]))",
        "```",
        "",
        "`javis_train.json` holds the resolved params, base identity, data hashes and timings.",
        "",
    ]
    return "\n".join(lines)


def _file_hash(path: Path) -> str | None:
    return jm.sha256_file(path) if path.is_file() else None


def _adapter_hash(folder: Path | None) -> str | None:
    return _file_hash(folder / "adapter_model.safetensors") if folder else None


def _last(history: list[dict], key: str) -> float | None:
    for entry in reversed(history):
        if key in entry:
            return round(float(entry[key]), 4)
    return None


def _q(cfg: params.Train) -> str | None:
    return None if cfg.quantize == "none" else cfg.quantize


def _is_tty() -> bool:
    import sys

    return sys.stderr.isatty()


def _warn_init_lora_differs(config: Any, cfg: params.Train) -> None:
    if config.r != cfg.lora_r or config.lora_alpha != cfg.lora_alpha:
        log.warning(
            "train.init_from: the adapter has r=%s alpha=%s; continuing with those (params say r=%s alpha=%s)",
            config.r,
            config.lora_alpha,
            cfg.lora_r,
            cfg.lora_alpha,
        )


def _versions() -> dict:
    import peft
    import torch
    import transformers
    import trl

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "trl": trl.__version__,
    }


def train(p: Any) -> dict:
    """Run the whole stage for params `p`; returns the javis_train.json record."""
    pl = plan(p)
    cfg = pl.cfg
    started = time.perf_counter()
    log.info(
        "train: %d SFT records (%d val), method %s, %s on %s (%s), %d threads",
        len(pl.rows["train"]),
        len(pl.rows["val"]),
        cfg.method,
        pl.precision,
        pl.device,
        pl.precision_reason,
        pl.threads,
    )
    try:
        tokenizer = jm.load_tokenizer(pl.base_dir, p.persona.system_prompt)
    except template.TemplateError as e:
        raise TrainError(f"base.source: {e}") from None

    from dvclive import Live

    run_dir = Path(cfg.checkpoint_dir) / pl.fingerprint()
    resumed = run_dir.is_dir()
    with Live(dir=cfg.live_dir, dvcyaml=False, save_dvc_exp=False, resume=resumed) as live:
        done = run_dir / "sft_adapter" / "adapter_model.safetensors"
        if done.is_file() and (run_dir / "sft_stats.json").is_file():
            log.info("train: SFT already finished in %s; skipping to the next phase", run_dir)
            sft_stats = json.loads((run_dir / "sft_stats.json").read_text())
            model = load_for_training(pl, run_dir / "sft_adapter") if cfg.method == "sft" else None
        else:
            model, sft_stats = run_sft(pl, tokenizer, run_dir, live)
            fileio.write_json(run_dir / "sft_stats.json", sft_stats)
        preference = None
        if cfg.method != "sft":
            del model
            model, preference = run_preference(pl, tokenizer, run_dir, live)
            kind = "dpo" if cfg.method == "sft+dpo" else "kto"
            preference.update(kind=kind, beta=getattr(cfg, kind).beta)

    record = {
        "persona": p.persona.name,
        "params": {
            "train": dataclasses.asdict(cfg),
            "base": dataclasses.asdict(p.base),
            "persona": dataclasses.asdict(p.persona),
        },
        "base": {
            k: pl.base_info.get(k)
            for k in (
                "id",
                "source",
                "kind",
                "revision",
                "gguf_sha256",
                "fingerprint",
                "parameters",
                "dtype",
            )
        }
        | {"path": str(pl.base_dir)},
        "init_from": cfg.init_from or None,
        "init_adapter_sha256": _adapter_hash(pl.init_dir),
        "template_sha256": template.template_hash(tokenizer),
        "seed": cfg.seed,
        "precision": pl.precision,
        "precision_reason": pl.precision_reason,
        "device": pl.device,
        "threads": pl.threads,
        "quantize": cfg.quantize,
        "data": pl.data_hashes,
        "sft": sft_stats,
        "preference": preference,
        "tokens_trained": sft_stats["tokens_trained"]
        + ((preference or {}).get("tokens_trained") or 0),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "versions": _versions(),
        "run": pl.fingerprint(),
    }
    write_adapter(pl, model, tokenizer, record, pl.out_dir)
    pl.acc.extra.update(
        {
            "records_trained": {
                "sft": len(pl.rows["train"]),
                "val": len(pl.rows["val"]),
                "dpo": len(pl.rows.get("dpo", [])),
                "kto": len(pl.rows.get("kto", [])),
            },
            "steps": sft_stats["steps"],
            "train_loss": sft_stats["train_loss"],
            "eval_loss": sft_stats.get("eval_loss"),
            "tokens_trained": record["tokens_trained"],
            "tokens_per_second": sft_stats["tokens_per_second"],
            "wall_seconds": record["wall_seconds"],
        }
    )
    if preference:
        pl.acc.extra[preference["kind"]] = {
            k: preference[k] for k in ("steps", "train_loss", "rewards_accuracy", "rewards_margin")
        }
    pl.acc.write(Path(p.paths.metrics) / "train.json")
    shutil.rmtree(
        run_dir, ignore_errors=True
    )  # finished: the adapter is out, checkpoints are not needed
    return record


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.utils.logging.set_verbosity_warning()
    record = train(params.load())
    sft = record["sft"]
    log.info(
        "train: %s -> %s: %d steps, loss %s (val %s), %d tokens at %s tokens/s, %.0f s wall",
        record["params"]["train"]["method"],
        params.load().paths.adapter,
        sft["steps"],
        sft["final_loss"],
        sft.get("eval_loss"),
        record["tokens_trained"],
        sft["tokens_per_second"],
        record["wall_seconds"],
    )


if __name__ == "__main__":
    main()
