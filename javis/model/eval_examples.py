"""The evaluate stage's inputs: the eval items, the baseline marker, and every check on them that
runs before a model loads.

An item is one prompt and what a good answer to it is (`Item.set`):
- `test`: a test conversation cut before its last assistant turn; that turn is the reference;
- `tool`: a test conversation cut before each assistant turn that carries `tool_calls` (the calls
  are what the answer must make: a final turn with calls is both a `test` and a `tool` item, and
  its answer is generated once);
- `regression`: a user's correction: its prompt, the corrected answer as the reference and the bad
  answer as `original`; with `evaluate.paraphrases`, also the same correction asked in other words
  (`paraphrase`: a fixed rule applied here, at eval time, so no paraphrase is ever trained on);
- `persona`: an identity probe from the probe file (`evaluate.probes`), asked with no history;
- `generic`: a generic question and reference answer from `evaluate.generic` (forgetting: NLL);
- `generic_kl`: a generic prompt from `evaluate.kl_prompts` (forgetting: KL from the base on the
  base's own greedy answer, which the run fills in as the item's target).

`group` is the split group of the record an item comes from (the record's `meta.split_group` or
`meta.group` when the split writes one, else `records.group_key`: the split's own group key, the
hash of the first user turn); a paraphrase shares its original's group, a generic item has its
template family, a probe its own id. `encode` turns an item into token ids. Problems that stop the
stage are `EvalError`s that say what to run; a set that comes out empty is a `note` saying what it
means for the gate (javis/release/gate.py: a gated metric under `gate.min_items` items is "not
enough evidence", never a pass).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from javis.core import fileio, params
from javis.data.records import content_of, digest, group_key
from javis.model import evaluation as ev
from javis.model import loading, template

log = logging.getLogger("javis.evaluate")

SETS = ("test", "tool", "regression", "persona", "generic", "generic_kl")
ANSWERED = frozenset({"test", "tool", "regression", "persona"})  # sets that get a greedy answer


class EvalError(ValueError):
    """An input of the evaluate stage is missing or unusable; the message says what to run."""


@dataclass
class Item:
    """One eval prompt and what a good answer to it is."""

    id: str
    set: str  # one of SETS
    prompt: list[dict]
    reference: dict | None = None  # the reference assistant message (None: persona, generic_kl)
    tools: list | None = None
    original: str = ""  # regression: the bad answer the user corrected
    group: str = ""
    of: str = ""  # a paraphrase: the id of the item it rephrases
    prompt_ids: list[int] | None = None
    target_ids: list[int] | None = None

    @property
    def answered(self) -> bool:
        return self.set in ANSWERED

    @property
    def paraphrase(self) -> bool:
        return bool(self.of)


Example = Item  # the name before items replaced whole conversations


@dataclass
class Inputs:
    """What one evaluation compares, read and checked."""

    items: list[Item]
    test_available: int
    regression_available: int
    baseline: dict  # the marker: {"kind": "base" | "adapter", "tag", "rev", ...}
    notes: list[str] = field(default_factory=list)  # what is missing and what it means
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (record id, reason)

    def of_set(self, name: str) -> list[Item]:
        return [i for i in self.items if i.set == name]

    @property
    def test(self) -> list[Item]:
        return self.of_set("test")

    @property
    def regression(self) -> list[Item]:
        return self.of_set("regression")

    @property
    def baseline_source(self) -> str:
        return self.baseline.get("tag") or self.baseline["kind"]


def read_inputs(cfg: params.Evaluate, paths: params.Paths) -> Inputs:
    """The splits, the candidate adapter and the baseline, checked; the items of every set."""
    inputs = read_items(cfg, paths)
    adapter = Path(paths.adapter)
    missing = [f for f in loading.ADAPTER_FILES if not (adapter / f).is_file()]
    if missing:
        raise EvalError(
            f"evaluate: no trained adapter in {adapter} (missing {missing}); "
            "run `dvc repro train` first"
        )
    inputs.baseline = read_baseline(Path(paths.baseline))
    if inputs.baseline["kind"] == "adapter":
        try:
            loading.check_adapter_base(paths.baseline, paths.base, "evaluate.baseline")
        except loading.ModelError as e:
            raise EvalError(
                f"evaluate: {e}. After a base change, compare with the bare base "
                "(evaluate.baseline: base) and across bases with `javis compare`"
            ) from e
    return inputs


def read_items(cfg: params.Evaluate, paths: params.Paths) -> Inputs:
    """Every item of every set (no model, no adapter needed: stages/score_baseline.py reads the
    same items), with a note for each set that comes out empty."""
    data = Path(paths.training)
    test_records = read_split(data / "test.jsonl", "test", required=True)
    regression_records = read_split(data / "regression.jsonl", "regression", required=False)
    inputs = Inputs([], len(test_records), len(regression_records), {"kind": "base"})
    for r in sample(test_records, cfg.max_examples, cfg.seed):
        try:
            inputs.items += conversation_items(r)
        except ValueError as e:
            inputs.skipped.append((str(r.get("id")), str(e)))
    regression = regression_items(sample(regression_records, cfg.max_examples, cfg.seed))
    inputs.items += regression
    if cfg.paraphrases:
        inputs.items += [paraphrased(i) for i in regression]
    inputs.items += probe_items(Path(cfg.probes), inputs)
    if cfg.generic:
        inputs.items += generic_items(Path(cfg.generic), inputs)
    if cfg.kl_prompts:
        inputs.items += kl_items(Path(cfg.kl_prompts), inputs)
    for rid, reason in inputs.skipped:
        log.warning("evaluate: skipped %s: %s", rid, reason)
    inputs.notes += empty_set_notes(inputs, cfg)
    for note in inputs.notes:
        log.warning("evaluate: %s", note)
    return inputs


def empty_set_notes(inputs: Inputs, cfg: params.Evaluate) -> list[str]:
    """What each empty set means for the gate (its metric has n=0: "not enough evidence")."""
    what = {
        "tool": (
            "no tool-call items (no test conversation has an assistant turn with tool_calls): "
            "tool_call_accuracy has n=0, so the gate cannot check tool use and says not enough "
            "evidence for it; add tool conversations to the data"
        ),
        "regression": (
            "no corrections (regression.jsonl is empty): kept_promises has n=0, so the gate "
            "cannot check promises and says not enough evidence for them; corrections come "
            "from `javis feedback` (data/feedback)"
        ),
        "persona": (
            f"no identity probes ({cfg.probes}): persona_recall has n=0 and the gate says not "
            "enough evidence for it; point evaluate.probes at a probe file"
        ),
        "generic": (
            f"no generic reference answers ({cfg.generic or 'evaluate.generic is off'}): the "
            "forgetting NLL delta has n=0 and the gate says not enough evidence for it"
        ),
        "generic_kl": (
            f"no KL prompts ({cfg.kl_prompts or 'evaluate.kl_prompts is off'}): the forgetting "
            "KL has n=0 and the gate says not enough evidence for it"
        ),
    }
    present = {i.set for i in inputs.items}
    return [text for name, text in what.items() if name not in present]


def sample(records: list[dict], limit: int, seed: int) -> list[dict]:
    """A seeded sample of `limit` records in file order (all of them when limit is 0)."""
    if not limit or limit >= len(records):
        return records
    keep = sorted(random.Random(seed).sample(range(len(records)), limit))
    return [records[i] for i in keep]


def record_group(record: dict) -> str:
    """The split group of a record: the split's own when it writes one into `meta`, else the
    split's group key (javis/data/records.py)."""
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    for key in ("split_group", "group"):
        if isinstance(meta.get(key), str) and meta[key]:
            return meta[key]
    return group_key(record)


def conversation_items(record: dict) -> list[Item]:
    """A test conversation's items: its final answer (`test`) and, for each assistant turn that
    carries tool_calls after a user turn, the conversation cut just before it (`tool`)."""
    messages, tools, group = record["messages"], record.get("tools"), record_group(record)
    prompt, reference = ev.split_reference(messages)
    out = [Item(record["id"], "test", prompt, reference, tools, group=group)]
    seen_user = False
    for k, m in enumerate(messages):
        seen_user = seen_user or m.get("role") == "user"
        if m.get("role") == "assistant" and m.get("tool_calls") and seen_user:
            calls = len([x for x in out if x.set == "tool"]) + 1
            out.append(
                Item(f"{record['id']}#call{calls}", "tool", messages[:k], m, tools, group=group)
            )
    return out


def test_examples(records: Sequence[dict]) -> list[Item]:
    """The items of test conversations (their final answers and tool-call turns)."""
    return [i for r in records for i in conversation_items(r)]


def regression_items(records: Sequence[dict]) -> list[Item]:
    return [
        Item(
            r["id"],
            "regression",
            r["prompt"],
            r["chosen"][0],
            tools=r.get("tools"),
            original=content_of(r["rejected"][0]),
            group=record_group(r),
        )
        for r in records
    ]


regression_examples = regression_items

PARAPHRASE_FRAMES = {
    "en": ("Quick question: {q}", "{q} Please keep it short.", "Let me ask this another way: {q}"),
    "ko": ("궁금한 게 있어요. {q}", "{q} 짧게 대답해 주세요.", "다시 한번 물어볼게요. {q}"),
}
"""The paraphrase rule's frames, per language of the question (Korean by Hangul share, else
English); which frame an item gets is fixed by a hash of its id."""


def paraphrase(question: str, key: str) -> str:
    """The question in other words, by a fixed rule: the frame `PARAPHRASE_FRAMES[lang][h % 3]`
    (h = a hash of `key`) around the question, its trailing space and a doubled final "?" tidied.
    Deterministic, made at eval time: the paraphrase is never in the training data."""
    lang = "ko" if ev.detect_language(question) == "ko" else "en"
    frames = PARAPHRASE_FRAMES[lang]
    frame = frames[int(digest("paraphrase", key, size=8), 16) % len(frames)]
    return frame.format(q=question.strip())


def paraphrased(item: Item) -> Item:
    """A regression item asked in other words: its last user turn rewritten by `paraphrase`."""
    prompt = [dict(m) for m in item.prompt]
    last = max(k for k, m in enumerate(prompt) if m.get("role") == "user")
    prompt[last]["content"] = paraphrase(prompt[last].get("content") or "", item.id)
    return Item(
        f"{item.id}~para",
        "regression",
        prompt,
        item.reference,
        item.tools,
        original=item.original,
        group=item.group,
        of=item.id,
    )


def _eval_set_lines(path: Path, keys: tuple[str, ...], inputs: Inputs) -> list[dict]:
    """The objects of a shipped or user-given eval set file that have every key as a non-empty
    string; a line that does not is skipped with its line number and why (never silently)."""
    if not path.is_file():
        return []
    out = []
    for n, raw in enumerate(path.read_bytes().splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            inputs.skipped.append((f"{path}:{n}", f"not JSON ({e})"))
            continue
        bad = [k for k in keys if not isinstance(obj, dict) or not isinstance(obj.get(k), str)]
        if bad or not all(obj[k].strip() for k in keys):
            inputs.skipped.append((f"{path}:{n}", f"needs non-empty strings {list(keys)}"))
            continue
        out.append(obj)
    return out


def probe_items(path: Path, inputs: Inputs) -> list[Item]:
    """The identity probes: {"id", "question"} a line."""
    rows = _eval_set_lines(path, ("id", "question"), inputs)
    return [
        Item(r["id"], "persona", [{"role": "user", "content": r["question"]}], group=r["id"])
        for r in rows
    ]


def generic_items(path: Path, inputs: Inputs) -> list[Item]:
    """The forgetting set's generic reference answers: {"id", "group", "prompt", "answer"}."""
    rows = _eval_set_lines(path, ("id", "prompt", "answer"), inputs)
    return [
        Item(
            r["id"],
            "generic",
            [{"role": "user", "content": r["prompt"]}],
            {"role": "assistant", "content": r["answer"]},
            group=str(r.get("group") or r["id"]),
        )
        for r in rows
    ]


def kl_items(path: Path, inputs: Inputs) -> list[Item]:
    """The forgetting set's KL prompts: {"id", "prompt"}; targets come from the base at run time."""
    rows = _eval_set_lines(path, ("id", "prompt"), inputs)
    return [
        Item(r["id"], "generic_kl", [{"role": "user", "content": r["prompt"]}], group=r["id"])
        for r in rows
    ]


def read_split(path: Path, what: str, required: bool) -> list[dict]:
    if not path.is_file():
        raise EvalError(f"evaluate: {path} is missing; run `dvc repro split` first")
    records = list(fileio.iter_records(path))
    if required and not records:
        raise EvalError(
            f"evaluate: the {what} split {path} is empty (0 records): nothing to evaluate on; add "
            "conversations (data/raw, data/feedback) or raise params split.test_fraction"
        )
    return records


def read_baseline(folder: Path) -> dict:
    """The baseline marker: {"kind": "base" | "adapter", "tag", "rev", ...}."""
    marker = folder / loading.BASELINE_INFO
    if not marker.is_file():
        raise EvalError(f"evaluate: {marker} is missing; run `dvc repro baseline` first")
    info = orjson.loads(marker.read_bytes())
    if info.get("kind") not in ("base", "adapter"):
        raise EvalError(
            f"evaluate: {marker}: kind must be base or adapter, got {info.get('kind')!r}"
        )
    return info


def encode(tokenizer: Any, item: Item) -> None:
    """Token ids of the eval prompt (ending in `<|im_start|>assistant\\n`) and, when the item has a
    reference, of the reference answer after it, up to and including its `<|im_end|>` (what
    generation would have to produce)."""
    prompt = template.prepare_messages(item.prompt)
    prompt_text = tokenizer.apply_chat_template(
        prompt, tools=item.tools, add_generation_prompt=True, tokenize=False
    )
    item.prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    if item.reference is None:
        return
    answer = template.prepare_messages([item.reference])
    full_text = tokenizer.apply_chat_template(prompt + answer, tools=item.tools, tokenize=False)
    if not full_text.startswith(prompt_text):
        raise EvalError(
            f"evaluate: {item.id}: the chat template renders the prompt differently with and "
            "without the answer; the adapter's template must be javis's (javis/model/template.py)"
        )
    target = tokenizer(full_text[len(prompt_text) :], add_special_tokens=False)["input_ids"]
    end = tokenizer.convert_tokens_to_ids(template.IM_END)
    item.target_ids = target[: target.index(end) + 1] if end in target else target


def fingerprint(items: Sequence[Item]) -> str:
    """A hash of every item's id and token ids: the baseline's scores (stages/score_baseline.py)
    are reused only for exactly these items, tokenized the same way."""
    parts = [
        orjson.dumps([i.id, i.prompt_ids, None if i.set == "generic_kl" else i.target_ids])
        for i in items
    ]
    return digest("items", *[p.decode() for p in parts])
