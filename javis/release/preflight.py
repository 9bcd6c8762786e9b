"""The compatibility preflight: will this adapter load and behave where it is going?

Run at `javis release` (after training, before the gate: javis/release/transaction.py), at `javis
export` (javis/release/export.py) and for the serving targets. `check(adapter_dir, target,
base_dir)` returns a list of `Problem`s (empty: compatible), each naming the module or field and
what to do:

- the adapter's base is the base the target loads: the fingerprint in the adapter's
  javis_train.json equals the one in the base's javis_base.json (and so the GGUF sha256 for the
  bundled base), and the architecture is one the target runs;
- its target modules and rank are in the target's table (`TARGETS`, each list with its source);
  nothing in `modules_to_save` (llama.cpp's adapter format holds LoRA pairs only: a saved embedding
  or lm_head would be silently dropped, or refused at load);
- the chat template (ours) and the end-of-turn EOS are embedded in the adapter folder.

`check_stops(model, tokenizer, prompts, max_new_tokens)` is the "does it stop" check: greedy
answers to a few prompts must end with the end-of-turn token within `max_new_tokens`; a version
where no answer stops is refused with the prompts that ran on (ollama#8363: a fine-tune that never
emits its end-of-turn token runs on forever); a few that run on are reported, not refused.

Target-specific rules live in `TARGETS` and `_check_target`; the serving targets (vLLM, RunPod) have
their rows here too: one module for every target (over ~400 lines on purpose: each target's lists
sit beside the source they were taken from and the checks that use them).

The serving targets (`javis deploy` with deploy.target vllm or runpod, `javis serve --engine
vllm`) use `problems(folder, target, max_rank=..., base_name=..., base_path=...)` (reasons as
text) and `require(...)`, which raises PreflightError naming every reason; their rows:

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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from javis.model import template
from javis.model.loading import ADAPTER_FILES, BASE_INFO, TRAIN_INFO, read_info
from javis.release.errors import ReleaseError


class PreflightError(ReleaseError):
    """The target cannot serve this adapter as it is; the message lists every reason."""


@dataclass(frozen=True)
class Target:
    """Where an adapter can run, and what it takes there."""

    name: str
    modules: frozenset[str]
    """PEFT target module names (the last part of the module path) the target applies."""
    max_rank: int | None
    """The highest LoRA rank it loads (None: no limit of its own)."""
    architectures: frozenset[str]
    """HF architectures of the bases it runs with an adapter."""
    source: str
    """Where the lists were taken from."""
    ranks: tuple[int, ...] = ()
    """The values the engine's own max-rank setting may take (vLLM's --max-lora-rank); ()=any."""


VLLM_SOURCE = (
    "vLLM vllm/lora/peft_helper.py (no modules_to_save, no DoRA, r <= --max-lora-rank), "
    "vllm/config/lora.py MaxLoRARanks, Llama/Qwen2 packed_modules_mapping"
)
LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
VLLM_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)

TARGETS: dict[str, Target] = {
    "llama.cpp": Target(
        name="llama.cpp",
        modules=frozenset(
            ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
        ),
        max_rank=None,
        architectures=frozenset(("LlamaForCausalLM", "Qwen2ForCausalLM")),
        source=(
            "llama.cpp as vendored by llama-cpp-python 0.3.36: src/llama-adapter.cpp (a pair "
            "blk.N.<tensor>.weight.lora_a/lora_b per base tensor, rank read from lora_a's shape, "
            "no limit; any other tensor suffix is refused), gguf-py tensor_mapping.py (q/k/v/o_proj "
            "-> attn_q/k/v/output, gate/up/down_proj -> ffn_gate/up/down); embedding and lm_head "
            "LoRA are left out: SmolLM2 ties them (no output tensor) and our writer "
            "(javis/release/gguf_adapter.py) maps only the seven projections"
        ),
    ),
    "vllm": Target(
        name="vllm",
        modules=frozenset(LINEAR),
        max_rank=None,  # the engine's --max-lora-rank (deploy.max_lora_rank): problems(max_rank=)
        architectures=frozenset(("LlamaForCausalLM", "Qwen2ForCausalLM")),
        source=VLLM_SOURCE,
        ranks=VLLM_RANKS,
    ),
    "runpod": Target(
        name="runpod",
        modules=frozenset(LINEAR),
        max_rank=None,
        architectures=frozenset(("LlamaForCausalLM", "Qwen2ForCausalLM")),
        source="RunPod's worker-vllm runs vLLM: " + VLLM_SOURCE,
        ranks=VLLM_RANKS,
    ),
}


@dataclass(frozen=True)
class Problem:
    """One reason an adapter cannot go to a target: which module or field, and what to do."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def check(adapter_dir: str | Path, target: str | None, base_dir: str | Path) -> list[Problem]:
    """Problems of the adapter in `adapter_dir` on the base in `base_dir` for `target` (a key of
    `TARGETS`; None: only what every target needs). Empty: compatible."""
    adapter, base = Path(adapter_dir), Path(base_dir)
    missing = [f for f in ADAPTER_FILES if not (adapter / f).is_file()]
    if missing:
        return [Problem("adapter", f"{adapter} has no {missing}: not a trained adapter folder")]
    problems = _check_base(adapter, base) + _check_template(adapter)
    if target is not None:
        if target not in TARGETS:
            raise ValueError(f"preflight target {target!r}: expected one of {sorted(TARGETS)}")
        problems += _check_target(adapter, base, TARGETS[target])
    return problems


def _check_base(adapter: Path, base: Path) -> list[Problem]:
    trained = read_info(adapter, TRAIN_INFO).get("base") or {}
    info = read_info(base, BASE_INFO)
    want, have = trained.get("fingerprint"), info.get("fingerprint")
    if not want:
        return [
            Problem(
                f"{TRAIN_INFO} base.fingerprint",
                f"{adapter} does not say which base it was trained on; retrain it with "
                "stages/train.py (it records the base)",
            )
        ]
    if not have:
        return [
            Problem(
                f"{BASE_INFO} fingerprint",
                f"{base} has no {BASE_INFO}: build the base with `dvc repro base`",
            )
        ]
    if want != have:
        return [
            Problem(
                "base",
                f"the adapter was trained on {trained.get('id')!r} ({want[:24]}), the target would "
                f"load {info.get('id')!r} ({have[:24]}); export with the adapter's own base "
                "(base.* in params as at its release) or retrain on this one",
            )
        ]
    return []


def _check_template(adapter: Path) -> list[Problem]:
    problems = []
    source = ""
    jinja = adapter / "chat_template.jinja"
    if jinja.is_file():
        source = jinja.read_text(encoding="utf-8")
    else:
        source = str(_json(adapter / "tokenizer_config.json").get("chat_template") or "")
    if template.MARKER not in source.split("\n", 1)[0]:
        problems.append(
            Problem(
                "chat_template",
                f"{adapter} carries no javis chat template: the target would render prompts "
                "differently from training; save the adapter with stages/train.py",
            )
        )
    eos = _json(adapter / "tokenizer_config.json").get("eos_token")
    if isinstance(eos, dict):
        eos = eos.get("content")
    if eos != template.IM_END:
        problems.append(
            Problem(
                "eos_token",
                f"tokenizer_config.json's eos_token is {eos!r}, not the end-of-turn token "
                f"{template.IM_END}: generation would not stop at the end of an answer",
            )
        )
    return problems


def _check_target(adapter: Path, base: Path, target: Target) -> list[Problem]:
    config = _json(adapter / "adapter_config.json")
    problems = []
    arch = (_json(base / "config.json").get("architectures") or ["?"])[0]
    if arch not in target.architectures:
        problems.append(
            Problem(
                "base architecture",
                f"{arch} is not among {target.name}'s {sorted(target.architectures)} "
                f"(source: {target.source})",
            )
        )
    modules = config.get("target_modules") or []
    if isinstance(modules, str):
        modules = [modules]
    for module in sorted(modules):
        if module.rsplit(".", 1)[-1] not in target.modules:
            problems.append(
                Problem(
                    f"target_modules: {module}",
                    f"{target.name} applies LoRA to {sorted(target.modules)} only; retrain "
                    f"without {module} (train.target_modules)",
                )
            )
    for module in config.get("modules_to_save") or []:
        problems.append(
            Problem(
                f"modules_to_save: {module}",
                f"{target.name}'s LoRA adapters hold low-rank pairs only, not a fully trained "
                f"{module}; retrain with modules_to_save empty (or export --to merged)",
            )
        )
    ranks = [int(config.get("r", 0))] + [
        int(r) for r in (config.get("rank_pattern") or {}).values()
    ]
    if target.max_rank is not None and max(ranks) > target.max_rank:
        problems.append(
            Problem("r", f"rank {max(ranks)} is above {target.name}'s {target.max_rank}")
        )
    if config.get("use_dora"):
        problems.append(
            Problem("use_dora", f"{target.name} has no DoRA: retrain with use_dora false")
        )
    if config.get("bias", "none") != "none":
        problems.append(
            Problem("bias", f"LoRA biases ({config['bias']}) are not loaded by {target.name}")
        )
    return problems


def check_stops(
    model: Any, tokenizer: Any, prompts: list[str], max_new_tokens: int
) -> tuple[list[Problem], list[str]]:
    """The "does it stop" check: (problems, prompts that ran on). Greedy answers to `prompts`
    (each asked alone, default system prompt) must end with the end-of-turn token within
    `max_new_tokens`; a Problem when none does, naming the prompts."""
    import torch

    eos = tokenizer.convert_tokens_to_ids(template.IM_END)
    ran_on = []
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    with torch.inference_mode():
        for prompt in prompts:
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
            )
            ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
            out = model.generate(
                input_ids=ids.to(dev),
                attention_mask=torch.ones_like(ids).to(dev),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=eos,
                pad_token_id=tokenizer.pad_token_id,
            )
            if eos not in out[0, ids.shape[1] :].tolist():
                ran_on.append(prompt)
    model.train(was_training)
    if prompts and len(ran_on) == len(prompts):
        return [
            Problem(
                "stops",
                f"no greedy answer ended with {template.IM_END} within {max_new_tokens} new "
                f"tokens; it ran on for {ran_on}: the model would talk forever where it is "
                "served; check the training data's answers end (the template trains the stop)",
            )
        ], ran_on
    return [], ran_on


def probe_questions(path: str | Path) -> list[str]:
    """The questions of the identity probe file (`evaluate.probes`: {"id", "question"} a line;
    unreadable lines skipped, as evaluate skips and reports them): the "does it stop" prompts."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("question"), str) and row["question"]:
            out.append(row["question"])
    return out


def at_release(p: Any, log=print) -> None:
    """`javis release`'s preflight, after training and before the gate: refuse an adapter without
    its base, template or EOS, or one that never stops; say which export targets would refuse it
    (a release is not held back for a target it may never go to)."""
    from javis.model.loading import load_adapter
    from javis.release.errors import ReleaseError

    adapter, base = Path(p.paths.adapter), Path(p.paths.base)
    problems = check(adapter, None, base)
    if problems:
        raise ReleaseError(
            "preflight (after training, before the gate): "
            + "; ".join(str(problem) for problem in problems)
            + "; nothing was committed or tagged"
        )
    for name in sorted(TARGETS):
        for problem in check(adapter, name, base):
            log(f"  preflight: `javis export --to` {name} would refuse it: {problem}")
    prompts = probe_questions(p.evaluate.probes)[: p.release.stop_prompts]
    if not prompts:
        return
    model, tokenizer = load_adapter(base, adapter, precision="fp32")
    problems, ran_on = check_stops(model, tokenizer, prompts, p.serve.max_new_tokens)
    if problems:
        raise ReleaseError(
            "preflight (after training, before the gate): "
            + "; ".join(str(problem) for problem in problems)
            + "; nothing was committed or tagged"
        )
    log(
        f"  preflight: {len(prompts) - len(ran_on)}/{len(prompts)} answers stop within "
        f"serve.max_new_tokens ({p.serve.max_new_tokens})"
    )


# --- the serving engines (deploy.target vllm | runpod) ------------------------------------------


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
            f"target_modules is the pattern {modules!r}: list the modules (one of {sorted(spec.modules)})"
        )
    else:
        unknown = sorted(set(modules) - set(spec.modules))
        if unknown:
            found.append(
                f"target module(s) {unknown} are not supported by {target} "
                f"(supported: {', '.join(sorted(spec.modules))}; {spec.source})"
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


def require(folder: str | Path, target: str, **kw: object) -> None:
    """Raise PreflightError naming every reason `target` cannot serve `folder`."""
    found = problems(folder, target, **kw)  # type: ignore[arg-type]
    if found:
        raise PreflightError(
            f"{target} cannot serve {Path(folder).name}; nothing was switched:\n  - "
            + "\n  - ".join(found)
        )
