"""The optional pairwise judge (`evaluate.judge`): an OpenAI-compatible chat model compares the
candidate's and the baseline's answers to the same prompt, blinded and order-swapped.

- Blinded: the judge sees "Answer A" and "Answer B" only. The prompt never holds the words
  candidate or baseline, nor a version name (a name given in `hide` is masked in the answers too).
- Order-swapped: every pair is asked twice, A/B swapped (which side goes first in the first ask
  is a seeded coin per item). A side wins only when both asks pick it; any disagreement, or a tie
  in either ask, is a tie. A reply that names no verdict, or an endpoint that does not answer
  (after the SDK's retries, with a timeout), leaves the pair's verdict missing (`None`): never a
  win, so a down or garbage judge gives the gate's `judge` rule "not enough evidence".
- Length-controlled win rate, by logistic regression on the length difference (as AlpacaEval 2's
  length-controlled win rate, reduced to one covariate): per judged pair y = 1 (candidate wins),
  0.5 (tie), 0 (baseline wins); x = tanh((chars(candidate) - chars(baseline)) / sd), sd the
  standard deviation of that difference over the pairs; fit P(y) = sigmoid(a + b x) by Newton's
  method on the binomial likelihood (ridge 1e-2 on a and b, so an all-win set stays finite); the
  length-controlled rate is sigmoid(a), the predicted win rate at equal length.
- Recorded: the judge's model name, its base_url, the prompt's sha256, wins/losses/ties/missing.

`run(cfg, pairs)` -> (metrics/eval.json's `judge` summary, `set: "judge"` lines for
metrics/eval_samples.jsonl). Layer: model (no app import); the `openai` SDK loads only when a
judge is configured.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import random
import re
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

from javis.core import params

log = logging.getLogger("javis.judge")

SYSTEM = (
    "You compare two answers to the same conversation. Judge which answer better serves the "
    "user: correct, helpful, in the user's language, in the assistant's own voice, concise. "
    "Ignore the order in which the answers appear and do not prefer an answer for its length. "
    "Reply with exactly one word: A, B or TIE."
)
USER = (
    "Conversation:\n{conversation}\n\n"
    "[Answer A]\n{a}\n[End of answer A]\n\n"
    "[Answer B]\n{b}\n[End of answer B]\n\n"
    "Which answer is better? Reply with one word: A, B or TIE."
)
PROMPT_SHA256 = hashlib.sha256((SYSTEM + "\n\n" + USER).encode()).hexdigest()
"""Recorded with every summary: a changed prompt is a different judge."""

CANDIDATE, BASELINE, TIE = "candidate", "baseline", "tie"
GIVE_UP_AFTER = 3
"""Pairs in a row whose ask raised a connection or API error (after retries) before the judge is
taken as down and the remaining pairs are not asked (their verdicts missing)."""

MAX_CONVERSATION_CHARS = 8000
"""A longer conversation is shown to the judge from its end (the last turns decide the answer)."""

_VERDICT = re.compile(r"^\W*(?:answer\s+)?(a|b|tie)\b\W*$", re.IGNORECASE)
_BRACKET = re.compile(r"\[\[\s*(a|b|tie)\s*\]\]", re.IGNORECASE)
Ask = Callable[[list[dict]], str]


def parse(reply: object) -> str | None:
    """ "A", "B" or "TIE" from a judge reply: the whole reply is one of them (punctuation and
    "Answer" allowed: "A.", "**B**", "Answer A"), or its first line is, or it holds exactly one
    [[A]]/[[B]]/[[TIE]] mark. Anything else (prose, both letters, empty) is None: garbage."""
    if not isinstance(reply, str):
        return None
    text = reply.strip()
    lines = text.splitlines()
    for candidate in (text, lines[0] if lines else ""):
        m = _VERDICT.match(candidate.strip())
        if m:
            return m.group(1).upper()
    marks = {m.upper() for m in _BRACKET.findall(text)}
    return marks.pop() if len(marks) == 1 else None


def conversation_text(prompt: object) -> str:
    """The prompt's turns as "User: ..." / "Assistant: ..." lines (system and tool turns left
    out: the system prompt names the persona's model, not the answers')."""
    if isinstance(prompt, str):
        return f"User: {prompt}"
    lines = []
    for m in prompt if isinstance(prompt, list) else []:
        if isinstance(m, dict) and m.get("role") in ("user", "assistant"):
            who = "User" if m["role"] == "user" else "Assistant"
            lines.append(f"{who}: {m.get('content') or ''}")
    return "\n".join(lines)


def _mask(text: str, hide: Sequence[str]) -> str:
    """`text` with every name of `hide` (as a whole word, any case) replaced by "[model]"."""
    for name in sorted({h for h in hide if h}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "[model]", text, flags=re.IGNORECASE)
    return text


def _tail(text: str, limit: int = MAX_CONVERSATION_CHARS) -> str:
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


def messages(prompt: object, first: str, second: str, hide: Sequence[str] = ()) -> list[dict]:
    """The chat messages of one ask: `first` is shown as answer A, `second` as answer B."""
    user = USER.format(
        conversation=_mask(_tail(conversation_text(prompt)), hide),
        a=_mask(first, hide),
        b=_mask(second, hide),
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def combine(first_ask: str | None, second_ask: str | None, candidate_first: bool) -> str | None:
    """The pair's verdict from its two asks. In the first ask the candidate is answer A when
    `candidate_first`, in the second ask the order is swapped. None when either ask is missing."""
    if first_ask is None or second_ask is None:
        return None

    def side(said: str, candidate_is_a: bool) -> str:
        if said == "TIE":
            return TIE
        return CANDIDATE if (said == "A") == candidate_is_a else BASELINE

    one, two = side(first_ask, candidate_first), side(second_ask, not candidate_first)
    return one if one == two else TIE


def length_controlled(pairs: Sequence[tuple[str, int, int]]) -> float | None:
    """sigmoid(a) of the logistic fit y ~ a + b * tanh(length delta / sd) (module docstring);
    `pairs`: (verdict, chars of the candidate's answer, chars of the baseline's). None if empty."""
    ys = [{CANDIDATE: 1.0, TIE: 0.5, BASELINE: 0.0}[v] for v, _, _ in pairs]
    if not ys:
        return None
    deltas = [c - b for _, c, b in pairs]
    mean = sum(deltas) / len(deltas)
    sd = math.sqrt(sum((d - mean) ** 2 for d in deltas) / len(deltas)) or 1.0
    xs = [math.tanh(d / sd) for d in deltas]
    a = b = 0.0
    ridge = 1e-2
    for _ in range(50):  # Newton on the ridge-penalised binomial log likelihood (2 parameters)
        ga, gb, haa, hab, hbb = -ridge * a, -ridge * b, ridge, 0.0, ridge
        for x, y in zip(xs, ys, strict=True):
            p = 1.0 / (1.0 + math.exp(-(a + b * x)))
            w = p * (1.0 - p)
            ga, gb = ga + (y - p), gb + (y - p) * x
            haa, hab, hbb = haa + w, hab + w * x, hbb + w * x * x
        det = haa * hbb - hab * hab
        if det <= 0:
            break
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a + da, b + db
        if abs(da) + abs(db) < 1e-10:
            break
    return 1.0 / (1.0 + math.exp(-a))


def client_ask(cfg: params.JudgeEndpoint) -> Ask:
    """ask(messages) -> the judge's reply text, with the official `openai` SDK (its timeout and
    retries from `cfg`; temperature 0, a few tokens). Raises the SDK's errors."""
    import openai  # only when a judge is configured

    key = os.environ.get(cfg.api_key_env, "") if cfg.api_key_env else ""
    client = openai.OpenAI(
        base_url=cfg.base_url,
        api_key=key or "none",
        timeout=cfg.timeout,
        max_retries=cfg.retries,
    )

    def ask(msgs: list[dict]) -> str:
        out = client.chat.completions.create(
            model=cfg.model, messages=msgs, temperature=0, max_tokens=cfg.max_tokens
        )
        return (out.choices[0].message.content or "") if out.choices else ""

    return ask


def run(
    cfg: params.JudgeEndpoint | str | None,
    pairs: Sequence[dict],
    hide: Sequence[str] = (),
    seed: int = 42,
    ask: Ask | None = None,
) -> tuple[dict | None, list[dict]]:
    """Judge every pair; (the `judge` summary for metrics/eval.json, the `set: "judge"` lines).
    `pairs`: dicts with `id`, `group`, `prompt` and `candidate`/`baseline` side dicts holding
    `answer` (the test items of the eval samples). `cfg` none: (None, []), nothing asked. `hide`:
    names (version tags, "candidate", "baseline") masked in the text the judge sees."""
    if not isinstance(cfg, params.JudgeEndpoint):
        return None, []
    hide = [*hide, CANDIDATE, BASELINE]
    if ask is None:
        ask = client_ask(cfg)
    counts = {CANDIDATE: 0, BASELINE: 0, TIE: 0}
    items: list[dict] = []
    judged: list[tuple[str, int, int]] = []
    failed_in_row, garbage, errors = 0, 0, 0
    first_error = ""
    for k, pair in enumerate(pairs):
        c = str((pair.get("candidate") or {}).get("answer") or "")
        b = str((pair.get("baseline") or {}).get("answer") or "")
        candidate_first = random.Random(f"{seed}:{pair.get('id', k)}").random() < 0.5
        # (answer A, answer B, the candidate is A): the seeded order, then swapped
        orders = [(c, b, True), (b, c, False)] if candidate_first else [(b, c, False), (c, b, True)]
        said: list[str | None] = []
        raws: list[str | None] = []
        for first, second, _ in orders:
            if failed_in_row >= GIVE_UP_AFTER:
                said.append(None)
                raws.append(None)
                continue
            try:
                reply = ask(messages(pair.get("prompt"), first, second, hide))
            except Exception as e:  # the SDK's connection, timeout and API errors alike
                errors += 1
                failed_in_row += 1
                first_error = first_error or f"{type(e).__name__}: {str(e)[:200]}"
                said.append(None)
                raws.append(None)
                continue
            failed_in_row = 0
            verdict = parse(reply)
            garbage += verdict is None
            said.append(verdict)
            raws.append(reply[:200])
        verdict = combine(said[0], said[1], candidate_first)
        if verdict is not None:
            counts[verdict] += 1
            judged.append((verdict, len(c), len(b)))
        items.append(
            {
                "id": f"judge:{pair.get('id', k)}",
                "set": "judge",
                "of": pair.get("id", k),
                "group": pair.get("group") or f"item:{pair.get('id', k)}",
                "verdict": verdict,
                "asks": [
                    {"a": CANDIDATE if cand_a else BASELINE, "said": s, "reply": r}
                    for (_, _, cand_a), s, r in zip(orders, said, raws, strict=True)
                ],
                "candidate": {"chars": len(c)},
                "baseline": {"chars": len(b)},
            }
        )
    missing = sum(it["verdict"] is None for it in items)
    n = len(items) - missing
    summary = {
        "model": cfg.model,
        "base_url": _public(cfg.base_url),
        "prompt_sha256": PROMPT_SHA256,
        "order_swapped": True,
        "pairs": len(items),
        "n": n,
        "wins": counts[CANDIDATE],
        "losses": counts[BASELINE],
        "ties": counts[TIE],
        "missing": missing,
        "win_rate": (counts[CANDIDATE] + 0.5 * counts[TIE]) / n if n else None,
        "length_controlled_win_rate": length_controlled(judged),
        "length_control": "logistic regression of the verdict on tanh(char length delta / sd); "
        "the rate at equal length",
        "errors": errors,
        "unparsed_replies": garbage,
        "problem": _problem(cfg, len(items), missing, errors, garbage, first_error),
    }
    if summary["problem"]:
        log.warning("judge: %s", summary["problem"])
    else:
        log.info(
            "judge %s: %d wins, %d losses, %d ties of %d pairs (length-controlled win rate %.3f)",
            cfg.model,
            summary["wins"],
            summary["losses"],
            summary["ties"],
            n,
            summary["length_controlled_win_rate"] or 0.0,
        )
    return summary, items


def _public(url: str) -> str:
    """The URL without user:password@ or a query (metrics/eval.json is committed to git)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _problem(
    cfg: params.JudgeEndpoint, pairs: int, missing: int, errors: int, garbage: int, error: str
) -> str | None:
    """What went wrong, what it means for the gate and what to do; None when every pair has a
    verdict."""
    if not missing:
        return None
    what = []
    if errors:
        what.append(
            f"{errors} ask(s) got no answer from {_public(cfg.base_url)} ({error}); is the server running "
            f"and is evaluate.judge.base_url right (it ends in /v1)?"
        )
    if garbage:
        what.append(
            f"{garbage} repl(ies) from {cfg.model} named no verdict (expected one word: A, B or "
            "TIE); a stronger judge model or one that follows the format is needed"
        )
    return (
        f"{missing} of {pairs} pairs have no verdict: "
        + "; ".join(what)
        + ". Their verdicts count as missing (never as a win), so the gate's judge rule says "
        "'not enough evidence' when fewer than release.gate.min_items pairs are judged."
    )


def pairs_from(samples: Sequence[dict]) -> list[dict]:
    """The eval samples the judge compares: the test items (final answers) with both answers."""
    out = []
    for s in samples:
        c, b = s.get("candidate"), s.get("baseline")
        if s.get("set") == "test" and isinstance(c, dict) and isinstance(b, dict):
            out.append(s)
    return out


def summary_line(summary: dict | None) -> str:
    """One log/report line: "judge off" or the counts."""
    if not summary:
        return "judge: off (evaluate.judge: none)"
    rate = summary.get("length_controlled_win_rate")
    return (
        f"judge {summary['model']}: {summary['wins']} wins, {summary['losses']} losses, "
        f"{summary['ties']} ties, {summary['missing']} missing of {summary['pairs']} pairs"
        + (f"; length-controlled win rate {rate:.3f}" if rate is not None else "")
    )
