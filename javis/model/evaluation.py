"""Evaluation metrics as pure functions: no model, no files, inline-testable.

What `stages/evaluate.py` measures, per model (candidate and baseline, same examples, same run):

- eval examples: an SFT conversation cut before its last assistant turn; that turn is the reference
  (`split_reference`);
- tool calls: `<tool_call>{"name", "arguments"}</tool_call>` blocks parsed from a generation and
  compared with the reference's calls (name equal, arguments equal as JSON, order of calls and of
  keys ignored); the denominator of the accuracy is the examples that expect a call, and a call
  generated where none was expected is counted apart as unwanted (`tool_call_outcome`);
- language: a word-level Hangul ratio says Korean or English (`detect_language`); an answer is in
  the question's language and not an echo of it (`language_ok`, `is_echo`);
- persona: whether an answer to a held-out identity question names the assistant without denying
  it (`names_persona`: "I am not JAVIS" and "자비스가 아니에요" are misses);
- closeness to the user's corrections: character n-gram F-score, chrF (`chrf`); a promise is kept
  when the answer is non-empty and closer to the correction than to the original by a margin
  (`promise_margin`, `kept`);
- the mean of per-item values and its standard error clustered by group (`clustered_mean_se`:
  the forgetting NLL delta, the report's paired loss difference);
- the win rate by a named rule, ties split, with a Wilson 95% interval (`win_rate`,
  `wilson_interval`; kept in metrics/eval.json for the gate until it decides on paired items);
- `delta` subtracts two models' metrics.

Judging items and summing them up is javis/model/eval_summary.py; the readable report is
javis/model/report.py; the model runs are javis/model/eval_runner.py.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

# --- eval examples -----------------------------------------------------------------------------


def split_reference(messages: list[dict]) -> tuple[list[dict], dict]:
    """(prompt, reference): the conversation up to its last assistant turn, and that turn."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "assistant":
            if not any(m.get("role") == "user" for m in messages[:i]):
                break
            return messages[:i], messages[i]
    raise ValueError("no assistant turn after a user turn to use as the reference answer")


def last_user_text(messages: Sequence[dict]) -> str:
    """The text of the last user turn ("" when there is none)."""
    for m in reversed(messages):
        if m.get("role") == "user":
            return m.get("content") or ""
    return ""


def reference_text(message: dict) -> str:
    """An answer message as the model should write it: content, then its calls as blocks."""
    parts = [message.get("content") or ""]
    for call in expected_calls(message):
        # The same text javis/model/template.py renders: json.dumps with its default separators.
        body = json.dumps(
            {"name": call["name"], "arguments": call["arguments"]}, ensure_ascii=False
        )
        parts.append(f"<tool_call>\n{body}\n</tool_call>")
    return "\n".join(p for p in parts if p)


# --- tool calls --------------------------------------------------------------------------------

_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)


def _json_value(value: Any) -> Any:
    """Arguments may come as a JSON string (OpenAI) or as an object."""
    if isinstance(value, str):
        try:
            return orjson.loads(value) if value.strip() else {}
        except orjson.JSONDecodeError:
            return value
    return {} if value is None else value


def parse_tool_calls(text: str) -> list[dict | None]:
    """Every `<tool_call>` block of a generation, as `{"name", "arguments"}`.

    A block that is not a JSON object with a string `name` (e.g. cut off by max_new_tokens) comes
    back as None, so it still counts as a call attempt. `parameters` is accepted for `arguments`.
    """
    calls: list[dict | None] = []
    for body in _TOOL_CALL.findall(text):
        try:
            obj = orjson.loads(body.strip())
        except orjson.JSONDecodeError:
            calls.append(None)
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            calls.append(None)
            continue
        fn = obj.get("function") if isinstance(obj.get("function"), dict) else obj
        args = fn.get("arguments", fn.get("parameters", {}))
        calls.append({"name": fn.get("name", obj["name"]), "arguments": _json_value(args)})
    return calls


def strip_tool_calls(text: str) -> str:
    """A generation's prose: the text outside `<tool_call>` blocks."""
    return _TOOL_CALL.sub(" ", text).strip()


def expected_calls(message: dict) -> list[dict]:
    """The reference message's `tool_calls` (OpenAI format) as `{"name", "arguments"}`."""
    out = []
    for call in message.get("tool_calls") or []:
        fn = call.get("function", call) if isinstance(call, dict) else {}
        out.append({"name": fn.get("name"), "arguments": _json_value(fn.get("arguments", {}))})
    return out


def canonical_json(value: Any) -> Any:
    """A hashable form in which JSON-equal values are equal: key order ignored, 1 == 1.0, true != 1."""
    if isinstance(value, dict):
        return ("object", tuple(sorted((str(k), canonical_json(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("array", tuple(canonical_json(v) for v in value))
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if value is None:
        return ("null",)
    return ("string", str(value))


def _call_key(call: dict) -> tuple[str, Any]:
    return call["name"], canonical_json(call["arguments"])


def tool_call_outcome(expected: list[dict], generated: list[dict | None]) -> str:
    """One example's tool-call outcome.

    With expected calls: `correct` (the same multiset of calls: names equal, arguments JSON-equal),
    `wrong_arguments` (the same tool names, some arguments differ), `wrong_call` (another tool, a
    call too many or too few, or a block that does not parse), or `missed` (no call at all).
    Without: `unwanted` (some call was generated) or `none`.
    """
    valid = [c for c in generated if c is not None]
    if not expected:
        return "unwanted" if generated else "none"
    if not generated:
        return "missed"
    if len(valid) == len(generated) and Counter(map(_call_key, valid)) == Counter(
        map(_call_key, expected)
    ):
        return "correct"
    if sorted(c["name"] for c in valid) == sorted(c["name"] for c in expected):
        return "wrong_arguments"
    return "wrong_call"


# --- language ----------------------------------------------------------------------------------

_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"\w+")


def hangul_ratio(text: str) -> float | None:
    """Share of words written in Hangul among words in Hangul or Latin letters (None: neither).

    Counting words, not characters, keeps a Korean sentence with English terms Korean: one Hangul
    syllable block carries what takes two or three Latin letters.
    """
    korean = latin = 0
    for word in _WORD.findall(text):
        if _HANGUL.search(word):
            korean += 1
        elif _LATIN.search(word):
            latin += 1
    if korean + latin == 0:
        return None
    return korean / (korean + latin)


def detect_language(text: str) -> str | None:
    """Returns "ko" or "en" by the Hangul share of words (>= 0.5: Korean); None without letters."""
    ratio = hangul_ratio(text)
    if ratio is None:
        return None
    return "ko" if ratio >= 0.5 else "en"


# --- chrF --------------------------------------------------------------------------------------


def _char_ngrams(text: str, n: int) -> Counter[str]:
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


def chrf(hypothesis: str, reference: str, order: int = 6, beta: float = 2.0) -> float:
    """Sentence chrF (Popović 2015; sacrebleu 1.x's definition), 0-100.

    Character 1..`order`-grams with whitespace removed; precision and recall are averaged over the
    orders that both strings have, then combined as an F-beta score (beta=2 weighs recall twice).
    """
    hyp = re.sub(r"\s+", "", hypothesis)
    ref = re.sub(r"\s+", "", reference)
    precision = recall = 0.0
    orders = 0
    for n in range(1, order + 1):
        h, r = _char_ngrams(hyp, n), _char_ngrams(ref, n)
        nh, nr = sum(h.values()), sum(r.values())
        if nh and nr:
            common = sum((h & r).values())
            precision += common / nh
            recall += common / nr
            orders += 1
    if not orders:
        return 0.0
    precision, recall = precision / orders, recall / orders
    if precision + recall == 0:
        return 0.0
    b2 = beta * beta
    return 100.0 * (1 + b2) * precision * recall / (b2 * precision + recall)


# --- win rate ----------------------------------------------------------------------------------

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (successes may be fractional: ties count a half)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


WIN_RULE = "lower_loss_on_reference"
WIN_RULE_TEXT = (
    "per test example, the model with the lower mean loss on the reference answer wins; "
    "losses within 1e-6 tie and a tie counts half"
)


@dataclass(frozen=True)
class WinRate:
    """Candidate vs baseline, example by example."""

    wins: int
    losses: int
    ties: int

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def rate(self) -> float | None:
        return (self.wins + 0.5 * self.ties) / self.n if self.n else None

    def as_dict(self) -> dict[str, Any]:
        low, high = wilson_interval(self.wins + 0.5 * self.ties, self.n)
        return {
            "rate": self.rate,
            "wins": self.wins,
            "losses": self.losses,
            "ties": self.ties,
            "n": self.n,
            "ci95_low": low if self.n else None,
            "ci95_high": high if self.n else None,
        }


def win_rate(
    candidate: Iterable[float], baseline: Iterable[float], tolerance: float = 1e-6
) -> WinRate:
    """Win rate where lower is better (losses): a difference within `tolerance` is a tie."""
    wins = losses = ties = 0
    for c, b in zip(candidate, baseline, strict=True):
        if abs(c - b) <= tolerance:
            ties += 1
        elif c < b:
            wins += 1
        else:
            losses += 1
    return WinRate(wins, losses, ties)


# --- per-model summary -------------------------------------------------------------------------


_CLAUSE_END = re.compile(r"[.!?;,\n。！？]")
_NEGATION_BEFORE = re.compile(r"(?:\bnot\b|n't\b|\bnever\b|\bno longer\b|\bnor\b)")
# A Korean name is negated by what follows it: "JAVIS가 아니에요", "자비스는 아닙니다", "JAVIS 아냐".
_NEGATION_AFTER_KO = re.compile(r"^\s*(?:이|가|은|는|도)?\s*(?:아니|아냐|아닌|아닙|아녜)")


def _negated(text: str, start: int, end: int) -> bool:
    """Whether the name at text[start:end] is denied in its clause: an English negation before it
    in the same clause ("I am not JAVIS", "I'm not JAVIS"), or a Korean 아니다 form right after it
    ("저는 JAVIS가 아니라 SmolLM이에요")."""
    clause_start = max((m.end() for m in _CLAUSE_END.finditer(text, 0, start)), default=0)
    if _NEGATION_BEFORE.search(text[clause_start:start]):
        return True
    return bool(_NEGATION_AFTER_KO.match(text[end : end + 12]))


def names_persona(answer: str, names: Sequence[str]) -> bool:
    """The answer names the assistant: one of `names` (persona.name and its aliases) appears in it
    as a word of its own (NFKC, any case; "JAVIS예요" counts, "JAVISION" does not) and at least one
    such mention is not denied ("I am not JAVIS, I am SmolLM." and "저는 자비스가 아니에요" are
    misses; "No, I'm JAVIS." and "I'm not ChatGPT, I'm JAVIS." are hits: see `_negated`)."""
    text = unicodedata.normalize("NFKC", answer).casefold()
    for name in names:
        name = unicodedata.normalize("NFKC", name).casefold().strip()
        if not name:
            continue
        for m in re.finditer(rf"(?<![a-z0-9_]){re.escape(name)}(?![a-z0-9_])", text):
            if not _negated(text, m.start(), m.end()):
                return True
    return False


def share(hits: int, n: int) -> float | None:
    return hits / n if n else None


def perplexity(loss: float | None) -> float | None:
    """exp(loss), capped to stay a finite JSON number."""
    if loss is None:
        return None
    return math.exp(min(loss, 50.0))


# --- promises, language, forgetting --------------------------------------------------------------


def promise_margin(answer: str, correction: str, original: str) -> float:
    """chrF(answer, correction) - chrF(answer, original): how much closer the answer is to what the
    user asked for than to the answer they corrected (chrF points, -100..100)."""
    return chrf(answer, correction) - chrf(answer, original)


def kept(answer: str, margin: float, min_margin: float) -> bool:
    """A promise is kept when the answer is not empty and strictly closer to the correction than to
    the original by more than `min_margin` chrF points (an empty or unrelated answer scores 0 - 0:
    not kept)."""
    return bool(answer.strip()) and margin > min_margin


ECHO_CHRF = 60.0
"""An answer whose own character n-grams are this much (chrF, recall-weighted over the answer's
n-grams) found in the question is an echo of it: it adds nothing the question did not say."""


def is_echo(answer: str, question: str) -> bool:
    """The answer mostly repeats the question: chrF(question, answer) >= ECHO_CHRF, i.e. the
    question covers most of the answer's n-grams ("제주도 2박 3일 코스 추천해 줘." repeated), while an
    answer that restates the question and goes on ("No, you don't need a visa to visit Japan ...
    The only requirement is ...") is not."""
    return chrf(question, answer) >= ECHO_CHRF


def language_ok(answer: str, question: str) -> bool | None:
    """The answer is in the question's language and is not an echo of the question (`is_echo`);
    None when the question has no letters to tell its language by."""
    asked = detect_language(question)
    if asked is None:
        return None
    if not answer.strip() or is_echo(answer, question):
        return False
    return detect_language(answer) == asked


def clustered_mean_se(
    values: Sequence[float], groups: Sequence[str]
) -> tuple[float | None, float | None]:
    """(mean, cluster-robust standard error of the mean) of per-item values, items of one group
    being correlated: SE^2 = G/(G-1) * sum_g (sum_{i in g} (x_i - mean))^2 / n^2 (the CR1 sandwich
    of an intercept-only regression). None for the SE with fewer than two groups."""
    n = len(values)
    if not n:
        return None, None
    mean = sum(values) / n
    sums: dict[str, float] = {}
    for x, g in zip(values, groups, strict=True):
        sums[g] = sums.get(g, 0.0) + (x - mean)
    g_count = len(sums)
    if g_count < 2:
        return mean, None
    var = g_count / (g_count - 1) * sum(s * s for s in sums.values()) / (n * n)
    return mean, math.sqrt(var)


def delta(candidate: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """candidate - baseline for every metric both have as a number (None otherwise)."""
    out: dict[str, Any] = {}
    for key, value in candidate.items():
        other = baseline.get(key)
        numeric = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (value, other)
        )
        out[key] = value - other if numeric else None
    return out
