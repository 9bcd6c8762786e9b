"""What a training run will do, resolved and checked before any model loads.

`plan(train, paths, persona)` reads the split's files into trainer rows, checks the base folder,
the persona, the preference data the method needs and the adapter to continue from, picks the
setup for this hardware (javis/model/memory.py `choose`: dtypes, checkpointing, optimizer;
bitsandbytes checked for QLoRA before any long work) and threads, and hashes the inputs. Every problem is a
`TrainError` naming the param and what to do; `Plan.fingerprint()` names the run's checkpoint
folder (a rerun with the same params and data resumes there).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from javis.core import fileio, params
from javis.model import loading, memory
from javis.model.train_rows import SPLIT_FILES, dpo_row, kto_row, read_rows, sft_row


class TrainError(ValueError):
    """Bad params or inputs, found before any long work; the message names the param."""


@dataclass
class Plan:
    """What this run will do, resolved from params and inputs (recorded in javis_train.json)."""

    cfg: params.Train
    persona: params.Persona
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
    setup: memory.Setup | None = None
    """Dtypes, checkpointing and optimizer picked for this hardware (javis/model/memory.py)."""
    hardware: memory.Hardware | None = None
    memory: memory.MemoryPlan | None = None
    """Set by training.plan_memory (needs the tokenizer): the micro-batch that fits."""
    micro_batches: str = "auto"
    """tokens | rows | auto (tokens on a GPU, rows on a CPU): each step's rows as token-sized
    forwards (training.token_batched), or the longest row's fixed micro-batch with gradient
    accumulation. On the demo's CPU tokens trained 1.19x faster but peaked 0.6-0.9 GB higher than
    the plan counts (benchmarks/README.md), so a CPU keeps rows until the plan counts that."""
    data_hashes: dict[str, str | None] = field(default_factory=dict)
    val_available: int = 0
    """Validation records in the split; `rows["val"]` holds the `train.max_val_examples` used."""
    origins: list[tuple[str, str]] = field(default_factory=list)
    """(source, record id) of each `rows["train"]` row, in order (for the accounting)."""

    def fingerprint(self) -> str:
        """Identity of the run: params, data, base and init adapter (names its checkpoint folder)."""
        blob = json.dumps(
            {
                "train": dataclasses.asdict(self.cfg),
                "base": self.base_info.get("fingerprint"),
                "persona": dataclasses.asdict(self.persona),
                "data": self.data_hashes,
                "init": adapter_hash(self.init_dir),
                "precision": self.precision,
                "threads": self.threads,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan(cfg: params.Train, paths: params.Paths, persona: params.Persona) -> Plan:
    """Check params and inputs and resolve the run; raises TrainError with what to do."""
    base_dir, data_dir = Path(paths.base), Path(paths.training)
    try:
        loading.check_base_folder(base_dir)
    except loading.ModelError as e:
        raise TrainError(f"train: {e}") from None
    base_info = loading.read_info(base_dir, loading.BASE_INFO)
    if not persona.system_prompt.strip():
        raise TrainError(
            "persona.system_prompt: empty; it is the chat template's default system message"
        )

    acc = fileio.Accounting("train")
    val = read_rows(data_dir / SPLIT_FILES["val"], sft_row, None)
    origins: list[tuple[str, str]] = []
    rows = {
        "train": read_rows(data_dir / SPLIT_FILES["train"], sft_row, acc, origins),
        "val": sample_val(val, cfg.max_val_examples, cfg.seed),
    }
    if not rows["train"]:
        raise TrainError(
            f"train: {data_dir / SPLIT_FILES['train']} has no trainable records (missing, empty, "
            "or none with an assistant turn); run `dvc repro split`, or add data to data/raw or "
            "data/feedback"
        )
    if cfg.method == "sft+dpo":
        rows["dpo"] = read_rows(data_dir / SPLIT_FILES["dpo"], dpo_row, None)
        if not rows["dpo"]:
            raise TrainError(
                f"train.method: sft+dpo needs preference pairs, but {data_dir / SPLIT_FILES['dpo']} "
                "has none; correct some 👎 answers (each correction makes a pair) or set "
                "train.method: sft"
            )
    if cfg.method == "sft+kto":
        rows["kto"] = read_rows(data_dir / SPLIT_FILES["kto"], kto_row, None)
        if not rows["kto"]:
            raise TrainError(
                f"train.method: sft+kto needs rated answers, but {data_dir / SPLIT_FILES['kto']} "
                "has none; rate some answers 👍/👎 or set train.method: sft"
            )
        if len(rows["kto"]) < cfg.kto.batch_size:
            raise TrainError(
                f"train.kto.batch_size: {cfg.kto.batch_size} > the {len(rows['kto'])} KTO "
                "records; lower it"
            )

    init_dir = resolve_init(cfg, Path(paths.init))
    if init_dir is not None:
        try:
            loading.check_adapter_base(init_dir, base_dir, "train.init_from")
        except loading.ModelError as e:
            raise TrainError(str(e)) from None

    needs_bnb = cfg.quantize == "4bit" or cfg.optimizer == "paged_adamw_8bit"
    hw = memory.probe(loading.bitsandbytes_problem() if needs_bnb else None)
    try:
        setup = memory.choose(
            cfg.quantize, cfg.precision, cfg.gradient_checkpointing, cfg.optimizer, hw
        )
    except memory.SetupError as e:
        raise TrainError(str(e)) from None
    dev, precision, reason = hw.device, setup.compute, setup.reasons["compute"]
    # Ranks on one machine share its cores (one rank's GPU needs few)
    threads = cfg.threads or max(1, (os.cpu_count() or 1) // cfg.num_processes)
    hashes = {name: file_hash(data_dir / f) for name, f in SPLIT_FILES.items()}
    # The manifest is not hashed: it is not a dependency (it names the previous release, which
    # changes after every release without changing a byte of what is trained on).
    return Plan(
        cfg=cfg,
        persona=persona,
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
        setup=setup,
        hardware=hw,
        data_hashes=hashes,
        val_available=len(val),
        origins=origins,
    )


def sample_val(rows: list[dict], limit: int, seed: int) -> list[dict]:
    """At most `limit` of the validation rows (0: all): a sample drawn with the train seed, in
    file order. The epoch-end validation runs on every one of them (129 records took 173 s of a
    248 s run), so it is capped to stay a small share of training."""
    if not limit or len(rows) <= limit:
        return rows
    keep = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in keep]


def resolve_init(cfg: params.Train, init_path: Path) -> Path | None:
    """The adapter folder to continue from: `train.init_from` itself when it is an adapter folder,
    else the release adapter materialised in `paths.init`; None for a fresh adapter."""
    if not cfg.init_from:
        return None
    for candidate in (Path(cfg.init_from), init_path):
        if all((candidate / f).is_file() for f in loading.ADAPTER_FILES):
            return candidate
    raise TrainError(
        f"train.init_from: {cfg.init_from!r} is not an adapter folder and {init_path} holds no "
        f"adapter (missing {list(loading.ADAPTER_FILES)}); check the release tag exists "
        "(`javis versions`) and that its adapter is materialised there, or set train.init_from: '' "
        "to train from scratch"
    )


def file_hash(path: Path) -> str | None:
    """sha256 of a file, None when it does not exist."""
    return fileio.sha256_file(path) if path.is_file() else None


def adapter_hash(folder: Path | None) -> str | None:
    """sha256 of an adapter folder's weights (None without a folder)."""
    return file_hash(folder / "adapter_model.safetensors") if folder else None
