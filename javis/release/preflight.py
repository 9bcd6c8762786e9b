"""Compatibility preflight: can a serving target load this adapter as it is? Refuse with the reason.

Run before `javis deploy` hands a version to an engine (deploy.target vllm or runpod), and meant
to be extended by `javis export` for llama.cpp (one module for every target: add a `Target` to
TARGETS). Each target states what it supports and where that comes from:

- vllm (and runpod, whose serverless worker is vLLM): vLLM's PEFT reader
  (vllm/lora/peft_helper.py, `PEFTHelper._validate_features` and `validate_legal`) refuses
  `modules_to_save` ("vLLM only supports modules_to_save being None."), DoRA ("vLLM does not yet
  support DoRA."), a rank above `--max-lora-rank` ("is greater than max_lora_rank") and, unless
  the server enables it, a trained bias; `--max-lora-rank` itself must be one of vLLM's
  `MaxLoRARanks` (vllm/config/lora.py: 1, 8, 16, 32, 64, 128, 256, 320, 512). LoRA goes on the
  linear layers of the decoder: for the Llama and Qwen2 families (the bases javis trains on) the
  attention and MLP projections q/k/v/o_proj and gate/up/down_proj, which vLLM packs as qkv_proj
  and gate_up_proj (their `packed_modules_mapping`). Embedding and lm_head LoRA are refused here:
  vLLM's support for them went with the deprecated extra-vocabulary LoRA (lora_extra_vocab_size,
  deprecated in v0.11), and javis never trains them.

Checks, for every target: the adapter's base is the base the target will load (the name javis
trained on, and where both are known, the base weights' fingerprint); rank and target modules are
supported; no `modules_to_save`; our chat template travels with the adapter (`chat_template.jinja`:
without it an engine renders with the base's template).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from javis.release.errors import ReleaseError


class PreflightError(ReleaseError):
    """The target cannot serve this adapter as it is; the message lists every reason."""


@dataclass(frozen=True)
class Target:
    """What a serving target accepts, and where that is stated."""

    name: str
    modules: tuple[str, ...]
    ranks: tuple[int, ...]  # the values the target's max rank may take
    source: str


VLLM_SOURCE = (
    "vLLM vllm/lora/peft_helper.py (no modules_to_save, no DoRA, r <= --max-lora-rank), "
    "vllm/config/lora.py MaxLoRARanks, Llama/Qwen2 packed_modules_mapping"
)
LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
VLLM_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
TARGETS = {
    "vllm": Target("vllm", LINEAR, VLLM_RANKS, VLLM_SOURCE),
    "runpod": Target(
        "runpod", LINEAR, VLLM_RANKS, "RunPod's worker-vllm runs vLLM: " + VLLM_SOURCE
    ),
}


def adapter_config(folder: Path) -> dict:
    path = Path(folder) / "adapter_config.json"
    if not path.is_file():
        raise PreflightError(f"{folder}: no adapter_config.json: not an adapter folder")
    return json.loads(path.read_text(encoding="utf-8"))


def problems(
    folder: str | Path,
    target: str,
    *,
    max_rank: int,
    base_name: str | None = None,
    base_path: str | Path | None = None,
) -> list[str]:
    """Every reason `target` cannot serve the adapter in `folder` ([] = it can)."""
    from javis.model import loading

    folder = Path(folder)
    spec = TARGETS[target]
    cfg = adapter_config(folder)
    found: list[str] = []
    if max_rank not in spec.ranks:
        found.append(
            f"max rank {max_rank} is not one {target} accepts ({', '.join(map(str, spec.ranks))}; "
            f"{spec.source})"
        )
    if cfg.get("peft_type", "LORA") != "LORA":
        found.append(f"peft_type {cfg.get('peft_type')!r}: {target} serves LoRA adapters only")
    ranks = [int(cfg.get("r") or 0), *map(int, (cfg.get("rank_pattern") or {}).values())]
    if max(ranks) > max_rank:
        found.append(
            f"rank {max(ranks)} is above the engine's max rank {max_rank} "
            "(raise deploy.max_lora_rank, i.e. --max-lora-rank / MAX_LORA_RANK)"
        )
    modules = cfg.get("target_modules") or []
    if isinstance(modules, str):
        found.append(
            f"target_modules is the pattern {modules!r}: list the modules (one of {spec.modules})"
        )
    else:
        unknown = sorted(set(modules) - set(spec.modules))
        if unknown:
            found.append(
                f"target module(s) {unknown} are not supported by {target} "
                f"(supported: {', '.join(spec.modules)}; {spec.source})"
            )
    if cfg.get("modules_to_save"):
        found.append(
            f"modules_to_save {cfg['modules_to_save']} ({target} only supports modules_to_save "
            "being None: retrain without it, or export merged weights)"
        )
    if cfg.get("use_dora"):
        found.append(f"DoRA adapter ({target} does not support DoRA)")
    if cfg.get("bias", "none") != "none":
        found.append(f"bias {cfg['bias']!r} trained ({target} loads LoRA without biases here)")
    trained = loading.read_info(folder, loading.TRAIN_INFO).get("base") or {}
    trained_on = trained.get("id") or cfg.get("base_model_name_or_path")
    if base_name and trained.get("id") and trained["id"] != base_name:
        found.append(f"trained on base {trained['id']!r}, but {target} loads {base_name!r}")
    if base_path is not None:
        want, have = trained.get("fingerprint"), loading.base_fingerprint(base_path)
        if want and have and want != have:
            found.append(
                f"trained on base {trained_on!r} (fingerprint {want[:12]}), but {base_path} holds "
                f"other weights ({have[:12]})"
            )
    if not (folder / "chat_template.jinja").is_file():
        found.append(
            "no chat_template.jinja beside the adapter: the engine would render with the base's "
            "template, not ours"
        )
    return found


def check(folder: str | Path, target: str, **kw: object) -> None:
    """Raise PreflightError naming every reason `target` cannot serve `folder`."""
    found = problems(folder, target, **kw)  # type: ignore[arg-type]
    if found:
        raise PreflightError(
            f"{target} cannot serve {Path(folder).name}; nothing was switched:\n  - "
            + "\n  - ".join(found)
        )
