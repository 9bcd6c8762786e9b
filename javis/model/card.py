"""What a training run says about itself: javis_train.json, the README.md model card, the adapter
folder written whole, and the figures of metrics/train.json.

- `train_record(plan, trained, tokenizer, base)`: the resolved params, the base's identity, data
  hashes, the setup and memory plan, each phase's stats and library versions (javis_train.json;
  no timings: they are logged, so a rerun writes the same record);
- `model_card(record)`: the adapter's README.md;
- `write_adapter(out, model, tokenizer, record)`: the adapter, its tokenizer (with our chat
  template), javis_train.json and README.md, swapped in whole (`fileio.replace_dir`);
- `train_metrics(plan, record)`: what metrics/train.json adds to the record accounting.
"""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path
from typing import Any

from javis.core import fileio, params
from javis.model import launch, loading, memory, template
from javis.model.train_plan import Plan, adapter_hash
from javis.model.training import Trained

BASE_KEYS = (
    "id",
    "source",
    "kind",
    "revision",
    "gguf_sha256",
    "fingerprint",
    "parameters",
    "dtype",
)


def train_record(pl: Plan, trained: Trained, tokenizer: Any, base: params.Base) -> dict:
    """The javis_train.json record of a finished run."""
    cfg, sft_stats, preference = pl.cfg, trained.sft, trained.preference
    return {
        "persona": pl.persona.name,
        "params": {
            "train": dataclasses.asdict(cfg),
            "base": dataclasses.asdict(base),
            "persona": dataclasses.asdict(pl.persona),
        },
        "base": {k: pl.base_info.get(k) for k in BASE_KEYS} | {"path": str(pl.base_dir)},
        "init_from": cfg.init_from or None,
        "init_adapter_sha256": adapter_hash(pl.init_dir),
        "template_sha256": template.template_hash(tokenizer),
        "seed": cfg.seed,
        "precision": pl.precision,
        "precision_reason": pl.precision_reason,
        "device": pl.device,
        "threads": pl.threads,
        "processes": launch.world_size(),  # train.num_processes under accelerate launch; else 1
        "quantize": cfg.quantize,
        # what the hardware made of the params (javis/model/memory.py) and the memory plan
        "setup": dataclasses.asdict(pl.setup) if pl.setup else None,
        "memory": pl.memory.record() if pl.memory else None,
        "data": pl.data_hashes,
        # train.max_val_examples: how many validation records the epoch-end validation used
        "validation": {"records": len(pl.rows["val"]), "available": pl.val_available},
        "sft": sft_stats,
        "preference": preference,
        "tokens_trained": sft_stats["tokens_trained"]
        + ((preference or {}).get("tokens_trained") or 0),
        "versions": _versions(),
        "run": pl.fingerprint(),
    }


def train_metrics(pl: Plan, record: dict) -> dict:
    """The figures metrics/train.json carries beside the record accounting."""
    sft_stats, preference = record["sft"], record["preference"]
    extra: dict[str, Any] = {
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
    }
    if preference:
        extra[preference["kind"]] = {
            k: preference[k] for k in ("steps", "train_loss", "rewards_accuracy", "rewards_margin")
        }
    return extra


def write_adapter(
    out: Path, model: Any, tokenizer: Any, record: dict, state_dict: dict | None = None
) -> None:
    """Write the adapter folder whole: built beside `out`, then swapped in. `state_dict`: the
    weights gathered from FSDP/DeepSpeed ranks (javis/model/training.py `full_state`)."""
    with fileio.replace_dir(out) as tmp:
        model.save_pretrained(tmp, selected_adapters=["default"], state_dict=state_dict)
        sort_target_modules(tmp / "adapter_config.json")
        tokenizer.save_pretrained(tmp)
        drop_load_options(tmp / "tokenizer_config.json")
        fileio.write_json(tmp / loading.TRAIN_INFO, record)
        fileio.write_text(tmp / "README.md", model_card(record))


def sort_target_modules(config: Path) -> None:
    """PEFT saves `target_modules` in a set's order, which changes with every process's hash seed:
    sorted, the same adapter is the same bytes (and the same hash in dvc.lock) on every run."""
    import json

    data = json.loads(config.read_text())
    if isinstance(data.get("target_modules"), list):
        data["target_modules"] = sorted(data["target_modules"])
        # PEFT's own layout: json.dumps(indent=2, sort_keys=True)
        fileio.write_text(config, json.dumps(data, indent=2, sort_keys=True))


def drop_load_options(config: Path) -> None:
    """transformers saves how the tokenizer was loaded (`local_files_only`: True under
    HF_HUB_OFFLINE=1, else False) into tokenizer_config.json: the same adapter trained in another
    shell (an SSH session, CI) would be other bytes. A load option, not the tokenizer's: dropped."""
    import json

    data = json.loads(config.read_text()) if config.is_file() else {}
    if "local_files_only" in data:
        del data["local_files_only"]
        fileio.write_text(config, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def model_card(r: dict) -> str:
    """A short README.md for the adapter folder."""
    t, base, sft = r["params"]["train"], r["base"], r["sft"]
    qlora = " (4-bit base: QLoRA)" if t["quantize"] == "4bit" else ""
    lines = [
        f"# {r['persona']} adapter (LoRA on {base['id']})",
        "",
        f"A LoRA adapter trained by javis (`python -m stages.train`) on {sft['records']} "
        f"conversations with method `{t['method']}`{qlora}. Its version name is given at release "
        "(`javis release`, see metadata.yaml beside the release).",
        "",
        "| | |",
        "|---|---|",
        f"| base | {base['id']} ({base.get('kind')}, revision {base.get('revision') or '-'}, "
        f"`{(base.get('fingerprint') or '-')[:24]}`) |",
        f"| LoRA | r={t['lora_r']}, alpha={t['lora_alpha']}, dropout={t['lora_dropout']}, "
        f"modules={t['target_modules']} |",
        f"| SFT | lr {t['learning_rate']}, {sft['epochs']} epochs, {sft['steps']} steps, "
        f"batch {t['batch_size']}x{t['grad_accum']}, max length {t['max_length']} |",
        f"| loss | train {sft['train_loss']}, last {sft['final_loss']}, val {sft.get('eval_loss')}"
        f"{_val_records(r.get('validation'))} |",
    ]
    if r.get("preference"):
        pref = r["preference"]
        lines.append(
            f"| {pref['kind'].upper()} | {pref['records']} records, beta {pref['beta']}, "
            f"{pref['steps']} steps, reward accuracy {pref.get('rewards_accuracy')} |"
        )
    lines += [
        f"| precision | {r['precision']} ({r['precision_reason']}) on {r['device']}, "
        f"{r['threads']} threads |",
        f"| setup | {_setup_cell(r.get('setup'))} |",
        f"| tokens | {sft['tokens_trained']} trained |",
        f"| init | {r['init_from'] or 'fresh adapter'} |",
        f"| data | train.jsonl sha256 `{(r['data']['train'] or '-')[:16]}` |",
        f"| seed | {t['seed']} |",
        "",
        "The tokenizer here carries the javis chat template (ChatML, tool calls as `<tool_call>` "
        "JSON, the",
        "persona's system prompt by default); use it, not the base's. Loading:",
        "",
        "```python",
        "from javis.model.generation import generate_batch",
        "from javis.model.loading import load_adapter",
        "model, tok = load_adapter('models/base', 'models/adapter')",
        "print(generate_batch(model, tok, [[{'role': 'user', 'content': 'Who are you?'}]]))",
        "```",
        "",
        "`javis_train.json` holds the resolved params, base identity, data hashes, the setup and "
        "memory plan.",
        "",
    ]
    return "\n".join(lines)


def setup_line(setup: memory.Setup | None) -> str:
    """`compute bf16, base fp32, LoRA fp32, checkpointing off, adamw_torch` (with the reasons)."""
    if setup is None:
        return "-"
    r = setup.reasons
    return (
        f"compute {setup.compute} ({r.get('compute')}); base {setup.base_dtype} "
        f"({r.get('base_dtype')}); LoRA {setup.lora_dtype}; checkpointing "
        f"{'on' if setup.checkpointing else 'off'} ({r.get('checkpointing')}); {setup.optimizer}"
    )


def _setup_cell(setup: dict | None) -> str:
    if not setup:
        return "-"
    return (
        f"base {setup['base_dtype']}, compute {setup['compute']}, LoRA {setup['lora_dtype']}, "
        f"checkpointing {'on' if setup['checkpointing'] else 'off'}, {setup['optimizer']}"
    )


def _val_records(validation: dict | None) -> str:
    """` (64 of 129 records)` after the validation loss, when a record says how many were used."""
    if not validation:
        return ""
    return f" ({validation['records']} of {validation['available']} records)"


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
