"""The evaluate stage's inputs: the eval examples, the baseline marker, and every check on them that
runs before a model loads.

A test conversation's eval prompt is everything before its last assistant turn; that turn is the
reference. A regression record (the user's correction) gives its prompt, the corrected answer as
the reference and the bad answer as `original`. `encode` turns an example into the prompt's token
ids and the reference's (up to and including its `<|im_end|>`). Problems are `EvalError`s that
say what to run.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from javis.core import fileio, params
from javis.data.records import content_of
from javis.model import evaluation as ev
from javis.model import loading, template


class EvalError(ValueError):
    """An input of the evaluate stage is missing or unusable; the message says what to run."""


@dataclass
class Example:
    """One eval prompt and what a good answer to it is."""

    id: str
    set: str  # "test" | "regression"
    prompt: list[dict]
    reference: dict  # the reference (test) or corrected (regression) assistant message
    tools: list | None = None
    original: str = ""  # regression: the bad answer the user corrected
    prompt_ids: list[int] | None = None
    target_ids: list[int] | None = None


@dataclass
class Inputs:
    """What one evaluation compares, read and checked."""

    test: list[Example]
    regression: list[Example]
    test_available: int
    regression_available: int
    baseline: dict  # the marker: {"kind": "base" | "adapter", "tag", "rev", ...}

    @property
    def examples(self) -> list[Example]:
        return self.test + self.regression

    @property
    def baseline_source(self) -> str:
        return self.baseline.get("tag") or self.baseline["kind"]


def read_inputs(cfg: params.Evaluate, paths: params.Paths) -> Inputs:
    """The splits, the candidate adapter and the baseline, checked; the seeded samples of each set."""
    data = Path(paths.training)
    test_records = read_split(data / "test.jsonl", "test", required=True)
    regression_records = read_split(data / "regression.jsonl", "regression", required=False)
    adapter = Path(paths.adapter)
    missing = [f for f in loading.ADAPTER_FILES if not (adapter / f).is_file()]
    if missing:
        raise EvalError(
            f"evaluate: no trained adapter in {adapter} (missing {missing}); "
            "run `dvc repro train` first"
        )
    baseline = read_baseline(Path(paths.baseline))
    if baseline["kind"] == "adapter":
        try:
            loading.check_adapter_base(paths.baseline, paths.base, "evaluate.baseline")
        except loading.ModelError as e:
            raise EvalError(
                f"evaluate: {e}. After a base change, compare with the bare base "
                "(evaluate.baseline: base) and across bases with `javis compare`"
            ) from e
    return Inputs(
        test=test_examples(sample(test_records, cfg.max_examples, cfg.seed)),
        regression=regression_examples(sample(regression_records, cfg.max_examples, cfg.seed)),
        test_available=len(test_records),
        regression_available=len(regression_records),
        baseline=baseline,
    )


def sample(records: list[dict], limit: int, seed: int) -> list[dict]:
    """A seeded sample of `limit` records in file order (all of them when limit is 0)."""
    if not limit or limit >= len(records):
        return records
    keep = sorted(random.Random(seed).sample(range(len(records)), limit))
    return [records[i] for i in keep]


def test_examples(records: Sequence[dict]) -> list[Example]:
    out = []
    for r in records:
        prompt, reference = ev.split_reference(r["messages"])
        out.append(Example(r["id"], "test", prompt, reference, tools=r.get("tools")))
    return out


def regression_examples(records: Sequence[dict]) -> list[Example]:
    return [
        Example(
            r["id"],
            "regression",
            r["prompt"],
            r["chosen"][0],
            tools=r.get("tools"),
            original=content_of(r["rejected"][0]),
        )
        for r in records
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


def encode(tokenizer: Any, example: Example) -> None:
    """Token ids of the eval prompt (ending in `<|im_start|>assistant\\n`) and of the reference
    answer after it, up to and including its `<|im_end|>` (what generation would have to produce)."""
    prompt = template.prepare_messages(example.prompt)
    answer = template.prepare_messages([example.reference])
    prompt_text = tokenizer.apply_chat_template(
        prompt, tools=example.tools, add_generation_prompt=True, tokenize=False
    )
    full_text = tokenizer.apply_chat_template(prompt + answer, tools=example.tools, tokenize=False)
    if not full_text.startswith(prompt_text):
        raise EvalError(
            f"evaluate: {example.id}: the chat template renders the prompt differently with and "
            "without the answer; the adapter's template must be javis's (javis/model/template.py)"
        )
    example.prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    target = tokenizer(full_text[len(prompt_text) :], add_special_tokens=False)["input_ids"]
    end = tokenizer.convert_tokens_to_ids(template.IM_END)
    example.target_ids = target[: target.index(end) + 1] if end in target else target
