"""Several training processes through Accelerate (`train.launcher: accelerate`).

DVC's stage command stays `python -m stages.train`. With `train.launcher: accelerate` that process
(`wanted`) starts `accelerate launch --config_file <train.accelerate_config> --num_processes
<train.num_processes> -m stages.train` and waits for it; the launched ranks (`inside`: Accelerate's
launcher sets LOCAL_RANK, and we set JAVIS_LAUNCHED) train. The engines are Accelerate's own: DDP
(`deploy/accelerate/ddp.yaml`), FSDP (`fsdp.yaml`, with QLoRA's `bnb_4bit_quant_storage`) and
DeepSpeed ZeRO-2/3 (`deepspeed_zero2.yaml`, `deepspeed_zero3.yaml`, untested here).

How the work splits (javis/model/training.py, `rank_share`): each optimizer step is one length
bucket of `batch_size x grad_accum` rows, as in one process. Every rank builds the same seeded
order; the Trainer's data loader (Accelerate's batch sharding) hands micro-batch k of the order to
rank k mod N, so within a step the ranks hold disjoint rows, together exactly the bucket one process
would train on, with equal step counts. Gradients are averaged over the ranks with the loss
normalised by the step's trained tokens on all ranks (transformers' `average_tokens_across_devices`),
so the update equals one process's at the same global batch. Only rank 0 writes the adapter,
metrics, DVCLive and the stage's timing; every rank saves its part of a checkpoint (the Trainer's
convention), and resuming works as in one process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from javis.core import params

log = logging.getLogger("javis.train")

LAUNCHED = "JAVIS_LAUNCHED"  # set for the ranks of a launch, so they never launch again


def world_size() -> int:
    """Processes in this training (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def rank() -> int:
    """This process's rank (0 without a launcher)."""
    return int(os.environ.get("RANK", "0") or 0)


def is_main() -> bool:
    """Whether this process writes the stage's outputs (rank 0; the only process without a launcher)."""
    return rank() == 0


def inside() -> bool:
    """Whether this process is one rank of a launch (Accelerate's or torchrun's)."""
    return os.environ.get(LAUNCHED) == "1" or "LOCAL_RANK" in os.environ


def wanted(cfg: params.Train) -> bool:
    """Whether this process should start the launcher instead of training itself."""
    return cfg.launcher == "accelerate" and not inside()


def command(cfg: params.Train, module: str = "stages.train") -> list[str]:
    """The `accelerate launch` command for the train stage (the config file and process count from
    params; a free port, so two projects on one machine do not collide)."""
    config = Path(cfg.accelerate_config)
    if not config.is_file():
        raise SystemExit(
            f"train.accelerate_config: {config} does not exist; use one of deploy/accelerate/ "
            "(ddp.yaml, fsdp.yaml, deepspeed_zero2.yaml, deepspeed_zero3.yaml)"
        )
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(config),
        "--num_processes",
        str(cfg.num_processes),
        "--main_process_port",
        str(_free_port()),
        "-m",
        module,
    ]


def launch(cfg: params.Train) -> None:
    """Run the train stage under `accelerate launch` and wait; a failed rank fails the stage with
    its exit status (Accelerate stops the other ranks)."""
    cmd = command(cfg)
    log.info("train: %d processes: %s", cfg.num_processes, " ".join(cmd[1:]))
    env = {**os.environ, LAUNCHED: "1"}
    done = subprocess.run(cmd, env=env)
    if done.returncode != 0:
        raise SystemExit(f"train: accelerate launch failed (exit status {done.returncode})")


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
