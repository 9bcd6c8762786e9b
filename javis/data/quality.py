"""The brief's quality checklist: six criteria, each scored 1..5 by a documented rule.

Only 4 and above is trained on (`clean.min_score`). The thresholds and lists are `clean:` params
(params.yaml documents each); the rules:

- length: empty or shorter than `min_chars` -> 1; longer than 2 x `max_chars` -> 1; longer than
  `max_chars` -> 2; else 5. Short answers ("네, 알겠습니다.", "Done.") are fine.
- relevance: the answer repeats the question (after normalisation) -> 1; the answer is only a
  non-answer (`non_answers`: "I don't know.", "모르겠어요.") -> 2; else 5.
- style: each `banned_phrases` hit costs 2 points; more than `max_exclamations` "!", more than
  `max_emoji` emoji, or shouting (`shout_min_letters` or more Latin letters in capitals in a row)
  -> at most 3. Code (fenced or inline) is not judged for style.
- accuracy: an `identity_claims` regex (the persona is JAVIS; "I am ChatGPT", "made by OpenAI")
  -> 1; a `placeholder_facts` regex ("[citation needed]", "lorem ipsum", "TODO") outside code -> 2.
- format: an unfilled `{{placeholder}}`, a leaked special token (`leaked_tokens`) outside code, or
  a role prefix at the start (`role_prefixes`: "Assistant:") -> 1; unbalanced ``` fences -> 2.
- safety: an `unsafe_patterns` regex -> 1, unless its sentence refuses (`refusal_markers`:
  "I can't tell you how to make a bomb" is a good answer); else 5.

A scorer is `scorer(answer, question, cfg) -> (score, reason)`, the reason naming the criterion
and the evidence ("" for 5); `SCORERS` maps criteria to scorers, so one can be replaced (a local
model as judge). A record's score per criterion is the minimum over its answers (every assistant
turn of an SFT record, the chosen answer of a preference pair, a KTO completion); an assistant
turn that only calls tools is not scored for length and relevance.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

from javis.core.params import ParamsError
from javis.data.records import content_of, record_kind

if TYPE_CHECKING:
    from javis.core.params import Clean

CRITERIA = ("length", "relevance", "style", "accuracy", "format", "safety")
Score = tuple[int, str]
Scorer = Callable[[str, str, "Clean"], Score]

_FENCED = re.compile(r"```.*?(?:```|\Z)", re.S)
_INLINE = re.compile(r"`[^`\n]+`")
_SPACE = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[^\w\s]")
_TEMPLATE = re.compile(r"\{\{[^{}\n]{0,80}\}\}")
# Emoji: pictographs, emoticons, transport/map, supplemental symbols, flags, and the BMP's
# weather/misc symbols and hearts (not check marks or arrows, which lists use).
_EMOJI = re.compile(
    "[\U0001f1e6-\U0001f1ff\U0001f300-\U0001f5ff\U0001f600-\U0001f64f\U0001f680-\U0001f6ff"
    "\U0001f900-\U0001f9ff\U0001fa70-\U0001faff\u2600-\u26ff\u2763-\u2767\u2b50\u2b55]"
)
# Words in capitals joined by spaces, hyphens or apostrophes ("!" may end a word); a comma breaks
# the run, so "AI, API, GPU, CPU" is a list, not shouting.
_SHOUT = re.compile(r"[A-Z]+(?:[!?.]{0,8}[ '\-]+[A-Z]+)*")
_SENTENCE_END = re.compile(r"[.!?。\n]")


def fold(text: str) -> str:
    """NFKC, lower case, straight quotes, whitespace collapsed: the form phrases are matched in."""
    # replace() is ~20x faster than translate(); " ".join(split()) is _SPACE.sub(" ", t).strip()
    # (str.split() splits on exactly what `\s` matches), 3x faster: fold ran 35 us per answer, now 7.
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = (
            text.replace("\u2018", "'")
            .replace("\u2019", "'")
            .replace("\u201c", '"')
            .replace("\u201d", '"')
        )
    return " ".join(text.split()).lower()


def _bare(text: str) -> str:
    """`fold` without punctuation: "I don't know." and "i dont know" are the same answer."""
    return " ".join(_NOT_WORD.sub("", fold(text)).split())


def prose(text: str) -> str:
    """The text without code: fenced blocks (an unclosed one runs to the end) and inline code."""
    if "`" not in text:
        return text
    return _INLINE.sub(" ", _FENCED.sub(" ", text))


def _short(text: str, size: int = 40) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= size else text[: size - 3] + "..."


@functools.lru_cache(maxsize=64)
def _regexes(key: str, patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """Compile a params list of regexes (case-insensitive; `(?-i:...)` turns that off)."""
    compiled = []
    for i, pattern in enumerate(patterns):
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as e:
            raise ParamsError(
                f"params.yaml: clean.{key}[{i}]: bad regex {pattern!r}: {e}"
            ) from None
    return tuple(compiled)


@functools.lru_cache(maxsize=64)
def _prefilters(key: str, patterns: tuple[str, ...]) -> tuple[re.Pattern[str] | None, ...]:
    """Per pattern, a literal that every match must contain, as a regex with the pattern's case
    rule (or None): a text without it cannot match, and a literal search is 3-10x cheaper than a
    pattern that starts with `\\b`, a lookbehind or a group (clean spent half its time in these)."""
    return tuple(_required_literal(p) for p in patterns)


_MIN_LITERAL = 3


def _required_literal(pattern: str) -> re.Pattern[str] | None:
    """The longest run of literal characters in the pattern's top-level sequence (or a group in
    it), compiled alone; None when there is none worth it or the pattern is only a literal."""
    from re import _constants as sre  # the stdlib's own parser: the same reading as compile()
    from re import _parser

    try:
        parsed = _parser.parse(pattern, re.IGNORECASE)
    except re.error:
        return None
    base = parsed.state.flags & ~re.UNICODE
    if base & ~re.IGNORECASE:  # another global flag (verbose, ascii...): do not reason about it
        return None
    runs: list[tuple[str, int, bool]] = []  # (literal, flags, whether the pattern starts with it)

    def walk(items: list, flags: int, top: bool) -> None:
        run: list[str] = []
        leading = top
        for op, av in items:
            if op is sre.LITERAL:
                run.append(chr(av))
                continue
            if run:
                runs.append(("".join(run), flags, leading))
                run = []
            leading = False
            if op is sre.SUBPATTERN:
                _group, add, remove, sub = av
                if not (add | remove) & ~re.IGNORECASE:
                    walk(list(sub), (flags | add) & ~remove, False)
        if run:
            runs.append(("".join(run), flags, leading))

    walk(list(parsed), base, True)
    if not runs:
        return None
    literal, flags, leading = max(runs, key=lambda r: len(r[0]))
    if len(literal) < _MIN_LITERAL or leading:  # a leading literal: `re` already scans for it
        return None
    return re.compile(re.escape(literal), flags & re.IGNORECASE)


def _search(cfg: Clean, key: str, text: str) -> re.Match[str] | None:
    patterns = tuple(getattr(cfg, key))
    for regex, literal in zip(_regexes(key, patterns), _prefilters(key, patterns), strict=True):
        if literal is not None and literal.search(text) is None:
            continue
        if found := regex.search(text):
            return found
    return None


@functools.lru_cache(maxsize=16)
def _banned(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex of the banned phrases, longest first, so "as an ai language model" is one hit."""
    folded = sorted({fold(p) for p in phrases if p.strip()}, key=len, reverse=True)
    return re.compile("|".join(re.escape(p) for p in folded)) if folded else None


@functools.lru_cache(maxsize=16)
def _folded(phrases: tuple[str, ...]) -> list[str]:
    return [fold(p) for p in phrases]


@functools.lru_cache(maxsize=16)
def _bare_set(phrases: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_bare(p) for p in phrases)


def score_length(answer: str, question: str, cfg: Clean) -> Score:
    """Empty or under `min_chars` -> 1; over 2 x `max_chars` -> 1; over `max_chars` -> 2."""
    n = len(answer.strip())
    if n == 0:
        return 1, "length: empty answer"
    if n < cfg.min_chars:
        return 1, f"length: {n} characters (min {cfg.min_chars})"
    if n > 2 * cfg.max_chars:
        return 1, f"length: {n} characters (more than twice max {cfg.max_chars})"
    if n > cfg.max_chars:
        return 2, f"length: {n} characters (max {cfg.max_chars})"
    return 5, ""


def score_relevance(answer: str, question: str, cfg: Clean) -> Score:
    """Repeats the question -> 1; only a non-answer -> 2."""
    bare = _bare(answer)
    if question.strip() and bare == _bare(question):
        return 1, f"relevance: the answer repeats the question '{_short(answer)}'"
    if bare in _bare_set(tuple(cfg.non_answers)):
        return 2, f"relevance: non-answer '{_short(answer)}'"
    return 5, ""


def score_style(answer: str, question: str, cfg: Clean) -> Score:
    """Banned phrases cost 2 each; "!", emoji or capitals overused -> at most 3 (code excluded)."""
    text = prose(unicodedata.normalize("NFKC", answer))
    score, why = 5, []
    banned = _banned(tuple(cfg.banned_phrases))
    if banned is not None:
        for hit in banned.findall(fold(text)):
            score -= 2
            why.append(f"banned phrase '{hit}'")
    cap = []
    if (n := text.count("!")) > cfg.max_exclamations:
        cap.append(f"{n} '!' (max {cfg.max_exclamations})")
    if (n := len(_EMOJI.findall(text))) > cfg.max_emoji:
        cap.append(f"{n} emoji (max {cfg.max_emoji})")
    for run in _SHOUT.findall(text):
        if sum(c.isalpha() for c in run) >= cfg.shout_min_letters:
            cap.append(f"shouting '{_short(run)}'")
            break
    if cap:
        score = min(score, 3)
        why += cap
    score = max(score, 1)
    return score, ("style: " + "; ".join(why)) if score < 5 else ""


def score_accuracy(answer: str, question: str, cfg: Clean) -> Score:
    """A wrong identity claim -> 1; a placeholder instead of a fact (outside code) -> 2."""
    if found := _search(cfg, "identity_claims", answer):
        return 1, f"accuracy: identity claim '{_short(found.group())}'"
    if found := _search(cfg, "placeholder_facts", prose(answer)):
        return 2, f"accuracy: placeholder '{_short(found.group())}'"
    return 5, ""


def score_format(answer: str, question: str, cfg: Clean) -> Score:
    """Template placeholder, special token or role prefix -> 1; unbalanced ``` fences -> 2."""
    text = prose(answer)
    if found := _TEMPLATE.search(text):
        return 1, f"format: unfilled template placeholder '{_short(found.group())}'"
    for token in cfg.leaked_tokens:
        if token in text:
            return 1, f"format: leaked special token '{token}'"
    start = fold(answer)
    for prefix, folded in zip(cfg.role_prefixes, _folded(tuple(cfg.role_prefixes)), strict=True):
        if start.startswith(folded):
            return 1, f"format: role prefix '{prefix}' at the start"
    if answer.count("```") % 2:
        return 2, "format: unbalanced ``` code fence"
    return 5, ""


def score_safety(answer: str, question: str, cfg: Clean) -> Score:
    """Harmful content -> 1, unless the sentence it is in refuses."""
    refusals = _folded(tuple(cfg.refusal_markers))  # folded once, not per answer (was 40% of clean)
    patterns = tuple(cfg.unsafe_patterns)
    for regex, literal in zip(
        _regexes("unsafe_patterns", patterns), _prefilters("unsafe_patterns", patterns), strict=True
    ):
        if literal is not None and literal.search(answer) is None:
            continue
        for found in regex.finditer(answer):
            if not _refused(answer, found, refusals):
                return 1, f"safety: unsafe content '{_short(found.group())}'"
    return 5, ""


def _refused(text: str, found: re.Match[str], refusals: list[str]) -> bool:
    """Whether the sentence around `found` holds a refusal marker."""
    begin = max((m.end() for m in _SENTENCE_END.finditer(text, 0, found.start())), default=0)
    after = _SENTENCE_END.search(text, found.end())
    sentence = fold(text[begin : after.start() if after else len(text)])
    return any(marker in sentence for marker in refusals)


SCORERS: dict[str, Scorer] = {
    "length": score_length,
    "relevance": score_relevance,
    "style": score_style,
    "accuracy": score_accuracy,
    "format": score_format,
    "safety": score_safety,
}

# Not judged on an assistant turn that only calls tools (its content is empty by design).
_SKIP_FOR_TOOL_CALLS = ("length", "relevance")


def score_text(answer: str, question: str, cfg: Clean) -> dict[str, Score]:
    """All six criteria on one answer to `question`."""
    return {name: SCORERS[name](answer, question, cfg) for name in CRITERIA}


def answer_turns(record: dict) -> list[tuple[dict, str]]:
    """Every assistant message a record trains on, with the user turn before it (its question)."""
    kind = record_kind(record)
    if kind == "sft":
        before, answers = [], record.get("messages") or []
    else:
        before = record.get("prompt") or []
        answers = record.get("chosen" if kind == "preference" else "completion") or []
    question = ""
    for m in before:
        if isinstance(m, dict) and m.get("role") == "user":
            question = content_of(m)
    turns = []
    for m in answers:
        if not isinstance(m, dict):
            continue
        if m.get("role") == "user":
            question = content_of(m)
        elif m.get("role") == "assistant":
            turns.append((m, question))
    return turns


def score_record(record: dict, cfg: Clean) -> dict[str, Score]:
    """Each criterion's (score, reason) for a record: the minimum over its answers."""
    turns = answer_turns(record)
    if not turns:
        return {
            name: ((1, "length: no assistant answer") if name == "length" else (5, ""))
            for name in CRITERIA
        }
    scores: dict[str, Score] = {name: (5, "") for name in CRITERIA}
    for i, (message, question) in enumerate(turns, 1):
        content = message.get("content")
        tool_only = bool(message.get("tool_calls")) and not (
            isinstance(content, str) and content.strip()
        )
        answer = content_of(message)
        for name in CRITERIA:
            if tool_only and name in _SKIP_FOR_TOOL_CALLS:
                continue
            score, reason = SCORERS[name](answer, question, cfg)
            if score < scores[name][0]:
                where = f" (answer {i} of {len(turns)})" if len(turns) > 1 else ""
                scores[name] = (score, reason + where)
    return scores
