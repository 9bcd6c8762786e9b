"""The release gate: candidate vs baseline item by item (metrics/eval_samples.jsonl, the contract in
docs/DESIGN.md, "The release gate"), with known error rates, and what to review when it fails.

- `quality`, the primary decision: d_i = baseline loss - candidate loss per test item (mean NLL
  per reference token). Release only when the one-sided (1 - alpha) lower bound of mean(d),
  clustered bootstrap by split group (javis/core/stats.py), lies above -loss_margin
  (non-inferiority). Simulated at the demo's n (tests/test_gate_simulation.py): a candidate worse
  by the margin is released at most alpha of the time, one better by twice the margin at least
  80% of the time.
- Guardrails refuse on clear evidence of harm: tool-call accuracy, persona recall and style
  (paired per item: a drop beyond their margin), forgetting (mean KL from the base above
  `max_kl`; mean generic NLL above the base's by more than `max_generic_nll_increase`). Each gives
  a one-sided p-value; Holm across them keeps the chance of refusing a candidate that breaks none
  of them at most alpha.
- `judge`, only when `evaluate.judge` is set (metrics/eval.json has a `judge` summary): the
  pairwise judge's net preference, candidate minus baseline wins per judged pair, must not fall
  clearly below -judge_margin; a down or garbage-answering judge leaves verdicts missing, so the
  rule is "not enough evidence". With `evaluate.judge: none` there is no judge rule.
- `kept_promises`, item by item, no statistics: every correction the baseline kept by more than
  `promise_margin` chrF points must be kept by the candidate (strictly closer to the correction
  than to the original; an empty answer never is). Against the bare base (before the first
  release) what the base "keeps" is chance, as it was never taught the corrections: the share
  kept is then a paired guardrail (`promise_share_margin`, Holm) like the others.
- Every gated rule needs `min_items` items (statistical rules also two groups) or it is "not
  enough evidence", which refuses the release like a fail. A missing metric is never a pass.

Add a rule: a field in `params.Gate` and a function here returning a `Rule` (docs/DESIGN.md,
"Adding a gate rule"). Over the ~400-line guide on purpose: each rule's statistics sit beside the
sentence that tells the user what they found; split apart, the two would drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from javis.core import fileio, params, stats

PASS, FAIL, NOT_ENOUGH, OFF = "pass", "fail", "not enough evidence", "off"

# What a metric needs and where it comes from, said when it has too few items.
WHERE = {
    "quality": "test items with a loss for both sides (the test split's final answers)",
    "tool_call_accuracy": "tool-call items (assistant turns with tool_calls in the test split; "
    "add conversations with tool calls, e.g. examples/gen/tools_convs.py)",
    "kept_promises": "corrections (data/feedback corrections -> regression.jsonl)",
    "persona_recall": "identity probes (the persona probe file)",
    "style": "test answers with a style verdict for both sides",
    "forgetting_kl": "generic prompts with a KL from the base (the forgetting set)",
    "forgetting_nll": "generic reference answers scored by the candidate and the base",
    "judge": "pairs with a verdict from the judge (evaluate.judge; a judge that is down or answers "
    "garbage leaves a pair without one: see metrics/eval.json's judge.problem)",
}


@dataclass(frozen=True)
class Rule:
    """One rule's verdict. `state`: pass | fail | not enough evidence | off (a guardrail left out
    of `release.gate.guardrails`); `detail` says it in words with the numbers; `estimate`, `low`,
    `high` (the one-sided bounds at alpha, i.e. a 1 - 2 alpha interval) and `n` as numbers; `p`:
    a guardrail's Holm-adjusted p-value."""

    name: str
    state: str
    detail: str
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    n: int = 0
    p: float | None = None

    @property
    def passed(self) -> bool:
        """True unless this rule refuses the release (fail or not enough evidence)."""
        return self.state in (PASS, OFF)


@dataclass
class _Values:
    """Per-item numbers of one metric with their groups, and the items that could not be used."""

    values: list[float]
    groups: list[str]
    skipped: int = 0


def _group(item: dict, k: int) -> str:
    """The split group of an item (its cluster); an item without one is its own group."""
    g = item.get("group")
    if isinstance(g, str | int) and not isinstance(g, bool) and str(g):
        return str(g)
    return f"item:{item.get('id', k)}"


def _num(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    x = float(x)
    return x if x == x and abs(x) != float("inf") else None


def _flag(x: object) -> float | None:
    return float(x) if isinstance(x, bool) else None


def _collect(
    items: list[dict], sets: Iterable[str], value: Callable[[dict], float | None]
) -> _Values:
    """value(item) for every item of `sets`; None (not measured, malformed) counts as skipped."""
    out = _Values([], [])
    wanted = set(sets)
    for k, item in enumerate(items):
        if item.get("set") not in wanted:
            continue
        v = value(item)
        if v is None:
            out.skipped += 1
        else:
            out.values.append(v)
            out.groups.append(_group(item, k))
    return out


def _side(item: dict, side: str) -> dict:
    s = item.get(side)
    return s if isinstance(s, dict) else {}


def _paired(key: str, convert: Callable[[object], float | None], sign: int = 1):
    """value(item) = sign * (candidate[key] - baseline[key]), None when either is missing."""

    def value(item: dict) -> float | None:
        c, b = convert(_side(item, "candidate").get(key)), convert(_side(item, "baseline").get(key))
        return None if c is None or b is None else sign * (c - b)

    return value


def _n_words(v: _Values) -> str:
    groups = len(set(v.groups))
    skip = f"; {v.skipped} not measured" if v.skipped else ""
    return f"n={len(v.values)} in {groups} group{'s' if groups != 1 else ''}{skip}"


def _evidence(name: str, v: _Values, cfg: params.Gate, statistical: bool = True) -> Rule | None:
    """ "not enough evidence" when a metric has too few items (or, for a bootstrap, one group)."""
    n = len(v.values)
    if n < cfg.min_items:
        skip = f" ({v.skipped} more not measured)" if v.skipped else ""
        return Rule(
            name,
            NOT_ENOUGH,
            f"not enough evidence for {name}: n={n}{skip}, need {cfg.min_items} "
            f"({WHERE[name]}); the release is refused until there are"
            + (", or leave it out of release.gate.guardrails" if name in params.GUARDRAILS else ""),
            n=n,
        )
    if statistical and len(set(v.groups)) < 2:
        return Rule(
            name,
            NOT_ENOUGH,
            f"not enough evidence for {name}: all n={n} items are in one split group, so they "
            "count as one; need items from at least 2 groups",
            n=n,
        )
    return None


def _boot(v: _Values, cfg: params.Gate) -> stats.Bootstrap:
    return stats.cluster_bootstrap(v.values, v.groups, cfg.bootstrap_resamples, cfg.bootstrap_seed)


def _pct(cfg: params.Gate) -> str:
    return f"{100 * (1 - cfg.alpha):g}%"


def _ival(cfg: params.Gate, low: float, high: float, digits: int = 3) -> str:
    return f"{100 * (1 - 2 * cfg.alpha):g}% interval [{low:+.{digits}f}, {high:+.{digits}f}]"


def quality(items: list[dict], cfg: params.Gate, against: str = "the baseline") -> Rule:
    """The primary decision: non-inferiority of the per-item loss on the reference answers."""
    v = _collect(items, ["test"], _paired("loss", _num, sign=-1))
    if (r := _evidence("quality", v, cfg)) is not None:
        return r
    b = _boot(v, cfg)
    low, high = b.lower(cfg.alpha), b.upper(cfg.alpha)
    wins = sum(d > 1e-6 for d in v.values)
    losses = sum(d < -1e-6 for d in v.values)
    ok = low > -cfg.loss_margin
    verdict = (
        f"lower bound {low:+.3f} > -{cfg.loss_margin:g}: not worse than {against} by the margin"
        if ok
        else f"lower bound {low:+.3f} <= -{cfg.loss_margin:g}: the data do not rule out that it is "
        f"worse than {against} by {cfg.loss_margin:g} nats or more"
    )
    return Rule(
        "quality",
        PASS if ok else FAIL,
        f"loss on the reference answers {abs(b.estimate):.3f} nats/token "
        f"{'lower' if b.estimate >= 0 else 'higher'} than {against} (improvement "
        f"{b.estimate:+.3f}, {_pct(cfg)} lower bound {low:+.3f}, {_ival(cfg, low, high)}, "
        f"{_n_words(v)}; better on {wins}, worse on {losses}); {verdict}",
        b.estimate,
        low,
        high,
        len(v.values),
    )


def _kept(side: dict, by: float) -> bool | None:
    """None: not measured. Without a `margin` (an older evaluate), its own `kept`."""
    answer = side.get("answer")
    margin = _num(side.get("margin"))
    if margin is None and not isinstance(side.get("kept"), bool):
        return None
    if not isinstance(answer, str) or not answer.strip():
        return False  # an empty answer never keeps a promise
    return margin > by if margin is not None else bool(side["kept"])


def _promise_share_check(items: list[dict], cfg: params.Gate, against: str) -> _Check | Rule:
    """Against the bare base (never taught the corrections, so its keeps are chance): the paired
    share of corrections kept (the same strict rule on both sides) may drop at most
    promise_share_margin, under Holm like the other guardrails."""
    marked = [
        {
            **it,
            "candidate": {"kept_now": _kept(_side(it, "candidate"), 0.0)},
            "baseline": {"kept_now": _kept(_side(it, "baseline"), 0.0)},
        }
        for it in items
        if it.get("set") == "regression"
    ]
    return _drop_check(
        "kept_promises", marked, ["regression"], "kept_now", cfg.promise_share_margin, cfg, against
    )


def kept_promises(items: list[dict], cfg: params.Gate, against: str = "the baseline") -> Rule:
    """Every correction the baseline kept (by more than promise_margin chrF points) stays kept."""
    kept = _kept
    pairs: list[tuple[str, bool, bool]] = []
    skipped = 0
    for k, item in enumerate(items):
        if item.get("set") != "regression":
            continue
        b = kept(_side(item, "baseline"), cfg.promise_margin)
        c = kept(_side(item, "candidate"), 0.0)
        if b is None or c is None:
            skipped += 1
        else:
            pairs.append((str(item.get("id", k)), b, c))
    v = _Values([0.0] * len(pairs), [p[0] for p in pairs], skipped)
    if (r := _evidence("kept_promises", v, cfg, statistical=False)) is not None:
        return r
    held = [p for p in pairs if p[1]]
    broken = [p[0] for p in held if not p[2]]
    n_cand = sum(p[2] for p in pairs)
    words = (
        f"{against} kept {len(held)} of {len(pairs)} corrections by more than "
        f"{cfg.promise_margin:g} chrF points, the candidate keeps {len(held) - len(broken)} of those "
        f"({n_cand} of {len(pairs)} in all{'; ' + str(skipped) + ' not measured' if skipped else ''})"
    )
    if broken:
        more = f" and {len(broken) - 5} more" if len(broken) > 5 else ""
        return Rule(
            "kept_promises",
            FAIL,
            f"{words}; broken: {', '.join(broken[:5])}{more} (a promise kept must stay kept)",
            float(len(held) - len(broken)),
            n=len(pairs),
        )
    return Rule(
        "kept_promises",
        PASS,
        f"{words}; none broken",
        float(len(held)),
        n=len(pairs),
    )


@dataclass(frozen=True)
class _Check:
    """A statistical guardrail before Holm: its bootstrap, its p-value and how to say it."""

    name: str
    boot: stats.Bootstrap
    p: float
    words: str  # the numbers
    n: int
    harm: str  # what refuses, e.g. "a drop larger than 0.1"


def _drop_check(
    name: str,
    items: list[dict],
    sets: list[str],
    key: str,
    margin: float,
    cfg: params.Gate,
    against: str,
) -> _Check | Rule:
    """A paired share (candidate - baseline per item, True = 1): harm = a drop beyond `margin`."""
    v = _collect(items, sets, _paired(key, _flag))
    if (r := _evidence(name, v, cfg)) is not None:
        return r
    b = _boot(v, cfg)
    both = _paired(key, _flag)
    cand = _collect(
        items, sets, lambda it: None if both(it) is None else _flag(_side(it, "candidate")[key])
    ).values
    share = sum(cand) / len(cand)
    low, high = b.lower(cfg.alpha), b.upper(cfg.alpha)
    words = (
        f"candidate {share:.3f} vs {against} {share - b.estimate:.3f} (change {b.estimate:+.3f}, "
        f"{_ival(cfg, low, high)}, {_n_words(v)})"
    )
    harm = f"a drop larger than {margin:g}"
    return _Check(name, b, b.p_below(-margin, cfg.alpha), words, len(v.values), harm)


def _ceiling_check(
    name: str, v: _Values, limit: float, cfg: params.Gate, words: Callable, harm: str
) -> _Check | Rule:
    """A mean that must not clearly exceed `limit`; `words(bootstrap, low, high)` says the numbers."""
    if (r := _evidence(name, v, cfg)) is not None:
        return r
    b = _boot(v, cfg)
    low, high = b.lower(cfg.alpha), b.upper(cfg.alpha)
    return _Check(name, b, b.p_above(limit, cfg.alpha), words(b, low, high), len(v.values), harm)


def _forgetting_checks(items: list[dict], cfg: params.Gate) -> list[_Check | Rule]:
    def generic_delta(item: dict) -> float | None:
        c, base = _num(_side(item, "candidate").get("loss")), _num(_side(item, "base").get("loss"))
        return None if c is None or base is None else c - base

    kl = _collect(items, ["generic_kl"], lambda it: _num(_side(it, "candidate").get("kl")))
    nll = _collect(items, ["generic"], generic_delta)
    return [
        _ceiling_check(
            "forgetting_kl",
            kl,
            cfg.max_kl,
            cfg,
            lambda b, low, high: (
                f"mean KL(base || candidate) {b.estimate:.3f} nats/token on generic prompts "
                f"({_ival(cfg, low, high)}, {_n_words(kl)})"
            ),
            f"a mean KL above {cfg.max_kl:g}",
        ),
        _ceiling_check(
            "forgetting_nll",
            nll,
            cfg.max_generic_nll_increase,
            cfg,
            lambda b, low, high: (
                f"NLL on generic reference answers {b.estimate:+.3f} nats/token vs the base model "
                f"(se {b.se:.3f}, {_ival(cfg, low, high)}, {_n_words(nll)})"
            ),
            f"an increase above {cfg.max_generic_nll_increase:g}",
        ),
    ]


def _judge_check(items: list[dict], cfg: params.Gate, against: str, model: str) -> _Check | Rule:
    """The pairwise judge (javis/model/judge.py): +1 candidate, -1 baseline, 0 tie per pair (both
    A/B orders agreed, else a tie); a missing verdict is skipped, never a win. Harm: a mean net
    preference below -judge_margin."""
    score = {"candidate": 1.0, "baseline": -1.0, "tie": 0.0}
    v = _collect(items, ["judge"], lambda it: score.get(str(it.get("verdict"))))
    if (r := _evidence("judge", v, cfg)) is not None:
        return r
    b = _boot(v, cfg)
    low, high = b.lower(cfg.alpha), b.upper(cfg.alpha)
    wins, losses = v.values.count(1.0), v.values.count(-1.0)
    words = (
        f"judge {model} prefers the candidate on {wins}, {against} on {losses}, ties "
        f"{len(v.values) - wins - losses} (net preference {b.estimate:+.3f}, "
        f"{_ival(cfg, low, high)}, {_n_words(v)})"
    )
    harm = f"a net preference below -{cfg.judge_margin:g}"
    return _Check("judge", b, b.p_below(-cfg.judge_margin, cfg.alpha), words, len(v.values), harm)


def guardrails(
    items: list[dict],
    cfg: params.Gate,
    against: str = "the baseline",
    judge: str | None = None,
    from_base: bool = False,
) -> list[Rule]:
    """Every guardrail's verdict, Holm-adjusted across the statistical ones that are gated.
    `judge`: the judge model's name when `evaluate.judge` was set (its rule is then added);
    `from_base`: the baseline is the bare base (kept promises are then a paired share)."""
    found: list[_Check | Rule] = [
        _drop_check(
            "tool_call_accuracy",
            items,
            ["tool"],
            "tool_ok",
            cfg.tool_accuracy_margin,
            cfg,
            against,
        ),
        _promise_share_check(items, cfg, against)
        if from_base
        else kept_promises(items, cfg, against),
        _drop_check(
            "persona_recall", items, ["persona"], "named", cfg.persona_margin, cfg, against
        ),
        _drop_check("style", items, ["test"], "style_ok", cfg.style_margin, cfg, against),
        *_forgetting_checks(items, cfg),
        *([_judge_check(items, cfg, against, judge)] if judge is not None else []),
    ]
    on = set(cfg.guardrails)
    checks = [c for c in found if isinstance(c, _Check) and c.name in on]
    adjusted = dict(zip((c.name for c in checks), stats.holm([c.p for c in checks]), strict=True))
    rules: list[Rule] = []
    for c in found:
        if isinstance(c, Rule):
            rule = c
        else:
            p = adjusted.get(c.name, c.p)
            ok = p > cfg.alpha
            rule = Rule(
                c.name,
                PASS if ok else FAIL,
                f"{c.words}; "
                + (f"no clear sign of {c.harm}" if ok else f"clear evidence of {c.harm}")
                + f" (Holm-adjusted p={p:.3g} {'>' if ok else '<='} {cfg.alpha:g})",
                c.boot.estimate,
                c.boot.lower(cfg.alpha),
                c.boot.upper(cfg.alpha),
                c.n,
                p,
            )
        if rule.name not in on:
            rule = Rule(
                rule.name,
                OFF,
                f"off (not in release.gate.guardrails), not gated: {rule.detail}",
                rule.estimate,
                rule.low,
                rule.high,
                rule.n,
                rule.p,
            )
        rules.append(rule)
    return rules


def gate(result: dict, items: list[dict], cfg: params.Gate) -> list[Rule]:
    """A verdict per rule: `quality` first, then the guardrails. `result` is metrics/eval.json
    (what the baseline was), `items` the lines of metrics/eval_samples.jsonl (none: every gated
    rule is "not enough evidence"). The release goes ahead only when every rule `passed`."""
    source = result.get("baseline_source")
    against = (
        "the base model"
        if source == "base"
        else (f"the baseline ({source})" if source else "the baseline")
    )
    items = [it for it in items if isinstance(it, dict)]
    judged = result.get("judge")  # evaluate.judge set: the summary; none: null, no judge rule
    judge = str(judged.get("model") or "?") if isinstance(judged, dict) else None
    return [
        quality(items, cfg, against),
        *guardrails(items, cfg, against, judge, from_base=source == "base"),
    ]


def worst_regressions(metrics: Path, n: int = 5) -> list[str]:
    """What to review after a failed gate (from eval_samples.jsonl): the identity questions and the
    user's corrections the candidate gets wrong and the baseline right, then the test examples it
    lost most on."""
    path = metrics / "eval_samples.jsonl"
    if not path.exists():
        return []
    broken, lost = [], []
    for line in fileio.read_jsonl(path, max_bytes=50_000_000):
        s = line.obj
        if s is None:
            continue
        c, b = _side(s, "candidate"), _side(s, "baseline")
        if s.get("set") == "persona" and c.get("named") is False and b.get("named") is True:
            broken.append(
                f"    forgot who it is {s.get('id')}: {prompt_text(s)[:70]!r} -> {str(c.get('answer'))[:70]!r}"
            )
        elif (
            s.get("set") == "regression"
            and (c.get("kept") is False or not str(c.get("answer") or "").strip())
            and b.get("kept") is not False
        ):
            broken.append(
                f"    broken promise {s.get('id')}: {prompt_text(s)[:70]!r} -> {str(c.get('answer'))[:70]!r}"
            )
        elif (
            s.get("set") == "test"
            and isinstance(c.get("loss"), float)
            and isinstance(b.get("loss"), float)
            and c["loss"] > b["loss"]
        ):
            lost.append(
                (
                    c["loss"] - b["loss"],
                    f"    loss +{c['loss'] - b['loss']:.3f} {s.get('id')}: {prompt_text(s)[:70]!r}",
                )
            )
    lost.sort(key=lambda r: -r[0])
    return (broken + [line for _, line in lost])[:n]


def prompt_text(sample: dict) -> str:
    """The last user turn of an eval sample's prompt (what the example asked)."""
    prompt = sample.get("prompt")
    if isinstance(prompt, list):
        users = [
            m.get("content") or ""
            for m in prompt
            if isinstance(m, dict) and m.get("role") == "user"
        ]
        return users[-1] if users else ""
    return str(prompt or sample.get("id"))
