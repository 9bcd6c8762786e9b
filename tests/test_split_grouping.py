"""The split's grouping (javis/data/splitting.py, dedup's banding): bands at the threshold, a bounded
candidate window, recall against exact Jaccard, answer-side groups, pinned collisions, the warning
on a giant group, and the has-tool-call strata. Run with `pytest -s` to see the figures."""

from __future__ import annotations

import logging
import random
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
from helpers import write_jsonl

from javis.core import params
from javis.data import dedup, splitting

CFG = params.Split()
CITIES = [
    "서울",
    "부산",
    "대구",
    "인천",
    "광주",
    "대전",
    "울산",
    "수원",
    "제주",
    "춘천",
    "전주",
    "포항",
]
ASKS = [
    "{c} 내일 아침 날씨 어때? 우산 챙겨야 할까",
    "What's a good {c} restaurant for a team dinner of eight people",
    "{c} 가는 KTX 첫차가 몇 시였지? 주말 기준으로",
    "Remind me what I booked in {c} for the conference next month",
    "{c} 출장 호텔 예약 확인 메일 다시 보내 줄 수 있어",
    "Can you find the cheapest flight to {c} leaving on Friday evening",
]


def conv(i: int, prompt: str, answer: str, tool: bool = False) -> dict:
    """One SFT record (as dedupe writes them) with one answer, or a tool call and then one."""
    messages = [{"role": "user", "content": prompt}]
    if tool:
        call = {
            "type": "function",
            "function": {"name": "get_weather", "arguments": f'{{"n": {i}}}'},
        }
        messages += [
            {"role": "assistant", "content": "", "tool_calls": [{"id": f"c{i}", **call}]},
            {"role": "tool", "tool_call_id": f"c{i}", "content": '{"temp_c": 3}'},
        ]
    messages.append({"role": "assistant", "content": answer})
    return {
        "id": f"sft-{i:05d}",
        "source": "test",
        "messages": messages,
        "meta": {"file": "t.jsonl", "line": i + 1},
    }


def read(tmp_path: Path, rows: list[dict]) -> splitting.Groups:
    write_jsonl(tmp_path / "sft.jsonl", rows)
    for kind in ("preference", "kto"):
        write_jsonl(tmp_path / f"{kind}.jsonl", [])
    return splitting.read_groups(tmp_path)


def test_bands_put_the_s_curve_midpoint_at_the_threshold():
    bands = dedup.bands_for(CFG.num_perm, CFG.near_threshold)
    rows = CFG.num_perm // bands
    midpoint = (1 / bands) ** (1 / rows)
    old = (1 / 16) ** (1 / 4)  # the old 64 perms in 16 bands x 4 rows
    print(
        f"\n{bands} bands x {rows} rows: midpoint {midpoint:.3f} (threshold {CFG.near_threshold}; "
        f"16 x 4 had {old:.3f})"
    )
    assert (bands, rows) == (10, 6), f"expected 10 bands x 6 rows, got {bands} x {rows}"
    assert abs(midpoint - CFG.near_threshold) < 0.03, (
        f"midpoint {midpoint:.3f} is off the threshold"
    )


def test_band_keys_are_equal_exactly_where_a_band_is():
    d = np.random.default_rng(0).integers(0, 2**32, size=(3, 60), dtype=np.uint32)
    d[1] = d[0]
    d[2, :6] = d[0, :6]  # the first band only
    keys = dedup.band_keys(d, 10)
    assert (keys[0] == keys[1]).all(), "equal digests gave different band keys"
    assert (keys[0] == keys[2]).tolist() == [True] + [False] * 9, f"band keys {keys[0] == keys[2]}"


def test_candidate_work_per_text_is_bounded_by_the_window():
    """A bucket that grows with the data (every text in one band bucket) costs at most
    bands x window pairs per text, at any size."""
    per_text = {}
    for n in (200, 2000, 20000):
        keys = np.zeros((n, 10), dtype=np.uint64)  # every text shares every band
        pairs = dedup.candidate_pairs(keys, CFG.window)
        per_text[n] = len(pairs) / n
        assert (pairs[:, 0] < pairs[:, 1]).all(), "a pair is not (earlier, later)"
    print(f"\ncandidate pairs per text, one shared bucket: {per_text}")
    assert per_text[20000] <= CFG.window, f"per text {per_text[20000]} > window {CFG.window}"
    assert per_text[20000] / per_text[2000] < 1.01, f"work per text grows: {per_text}"


def variants(text: str, rng: random.Random) -> list[str]:
    """Planted near duplicates: a typo, a word dropped, a word added, punctuation."""
    words = text.split()
    out = [text + "?", text.replace(" ", "  ", 1) + "!"]
    k = rng.randrange(len(words))
    out.append(" ".join(words[:k] + words[k + 1 :]))
    out.append(" ".join(words[:k] + ["좀" if rng.random() < 0.5 else "please"] + words[k:]))
    i = rng.randrange(len(text))
    out.append(text[:i] + text[i + 1 :])
    return out


def test_recall_against_exact_jaccard_on_planted_near_duplicates():
    """Every pair of planted texts whose exact character 3-gram Jaccard is >= the threshold lands
    in one group (recall >= 0.95); pairs the banding joined are checked against exact Jaccard
    (precision)."""
    rng = random.Random(16)
    vocab = [
        a + b
        for a in ("회의", "출장", "예산", "점심", "기차", "호텔")
        for b in ("표", "방", "일정", "메일")
    ]
    vocab += "meeting budget train hotel ticket lunch report draft weekend flight room call".split()
    vocab += CITIES
    texts: list[str] = []
    for _ in range(150):
        base = " ".join(rng.choice(vocab) for _ in range(rng.randint(5, 10)))
        texts += [base, *variants(base, rng)]
    texts = sorted(set(texts))
    n = len(texts)
    pairs = dedup.near_pairs(
        lambda a, b: [splitting.char_shingles(t) for t in texts[a:b]],
        n,
        CFG.num_perm,
        splitting.SEED,
        CFG.near_threshold,
        CFG.window,
        lambda i, j: splitting.jaccard(texts[i], texts[j]),
    )
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in pairs.tolist():
        parent[find(a)] = find(b)
    sets = [set(splitting.char_shingles(t)) for t in texts]
    exact = {
        (i, j): len(sets[i] & sets[j]) / len(sets[i] | sets[j])
        for i, j in combinations(range(n), 2)
    }
    truth = {p for p, j in exact.items() if j >= CFG.near_threshold}
    found = {(i, j) for i, j in combinations(range(n), 2) if find(i) == find(j)}
    direct = [exact[(a, b)] for a, b in pairs.tolist()]
    recall = len(truth & found) / len(truth)
    direct_recall = len(truth & set(map(tuple, pairs.tolist()))) / len(truth)
    precision = sum(j >= CFG.near_threshold for j in direct) / len(direct)
    by_bin = Counter(f"{min(0.9, int(exact[(i, j)] * 10) / 10):.1f}" for i, j in truth - found)
    print(
        f"\n{n} texts, {len(truth)} pairs with exact Jaccard >= {CFG.near_threshold}: recall "
        f"{recall:.3f} (same group), {direct_recall:.3f} (joined directly); {len(pairs)} pairs joined directly, precision {precision:.3f}; "
        f"missed by Jaccard bin {dict(by_bin)}; pairs in one group below the threshold "
        f"(transitive) {len(found - truth)}"
    )
    assert recall >= 0.95, f"recall {recall:.3f} < 0.95 (missed {len(truth - found)})"
    assert precision == 1.0, f"a directly joined pair is below the threshold: {precision:.3f}"


def test_answers_that_repeat_group_conversations_with_other_prompts(tmp_path):
    """Different first turns, equal or near-equal answers: one group, one split; a short answer
    ("네, 알겠어요.") groups nothing."""
    answer = "No, I'm JAVIS, Minjun Kim's personal assistant."
    rows = [conv(i, f"{c} 질문 {i}번: 너 혹시 시리야?", answer) for i, c in enumerate(CITIES[:6])]
    rows += [
        conv(10 + i, f"Question {i}: are you Alexa from {c}?", answer.replace(".", "!"))
        for i, c in enumerate(CITIES[6:])
    ]
    rows += [conv(30 + i, f"짧은 답 {c} 테스트 {i}", "네, 알겠어요.") for i, c in enumerate(CITIES)]
    groups = read(tmp_path, rows)
    placer = splitting.GroupPlacer(CFG, {})
    clusters = placer.clusters(groups)
    sizes = sorted(len(c) for c in clusters)
    print(f"\ncluster sizes {sizes}")
    assert sizes[-1] == 12, f"the 12 conversations with one answer are not one group: {sizes}"
    assert sizes.count(1) == 12, f"short answers grouped conversations: {sizes}"
    placed = placer.place_all(groups)
    splits = {placed[splitting.group_key(r)] for r in rows[:12]}
    assert len(splits) == 1, f"one answer in several splits: {splits}"
    named = {placer.cluster_of[splitting.group_key(r)] for r in rows[:12]}
    assert len(named) == 1, f"meta.split_group (the gate's bootstrap unit) differs: {named}"
    alone = {placer.cluster_of[splitting.group_key(r)] for r in rows[12:]}
    assert len(alone) == 12, "a conversation in no cluster is its own split_group"


def test_pinned_collisions_are_reported_apart_and_nothing_released_moves(tmp_path):
    """A release pinned A in train and B in test; B's answer now equals A's: the leak is a pinned
    collision (counted apart), the unpinned leakage stays 0, and neither group moves."""
    answer = "서울 내일은 맑고 최고 8도, 최저 영하 1도예요. 따뜻하게 입으세요."
    rows = [
        conv(0, "서울 내일 날씨 어때?", answer),
        conv(1, "What about Seoul tomorrow?", answer),
        conv(2, "Seoul weather please, for tomorrow", answer),
    ]
    groups = read(tmp_path, rows)
    a, b, c = (splitting.group_key(r) for r in rows)
    placer = splitting.GroupPlacer(CFG, {a: "train", b: "test"})
    placed = placer.place_all(groups)
    leaks = splitting.leakage(placer, placed)
    print(f"\nplaced {[placed[g] for g in (a, b, c)]}; leakage {leaks}")
    assert (placed[a], placed[b]) == ("train", "test"), f"a released group moved: {placed}"
    assert placed[c] == "train", f"the new group did not join the first pinned split: {placed[c]}"
    assert leaks["pinned"]["answer"]["exact"] == 1, f"pinned collision not reported: {leaks}"
    assert leaks["unpinned"]["answer"] == {"exact": 0, "near": 0}, f"unpinned leakage: {leaks}"


def test_a_chain_of_near_duplicates_warns_about_a_giant_group(tmp_path, caplog):
    """Texts each near the next (a sliding window of words) chain into one group: its size is
    recorded and a warning is logged when it holds more than max_group_share of the records."""
    words = [f"w{i:03d}" for i in range(400)]
    rows = [
        conv(i, " ".join(words[i : i + 12]), f"답 {i}: 확인 코드 {i * 7919 % 100003}")
        for i in range(200)
    ]
    rows += [
        conv(1000 + i, f"unrelated question {i} about {c}", f"unique answer {i} for {c} here")
        for i, c in enumerate(CITIES * 10)
    ]
    groups = read(tmp_path, rows)
    placer = splitting.GroupPlacer(CFG, {})
    with caplog.at_level(logging.WARNING, logger="javis.split"):
        placer.place_all(groups)
    print(f"\nlargest group {placer.largest}; warning: {caplog.records[0].getMessage()[:120]}...")
    assert placer.largest["groups"] >= 150, f"the chain did not form one group: {placer.largest}"
    assert any("max_group_share" in r.getMessage() for r in caplog.records), "no chaining warning"


def test_tool_conversations_are_stratified_into_test(tmp_path):
    """40 tool conversations among 400: test holds >= min_test_tool_items tool-call items (a
    10% hash would give about 4) and about a tenth of the plain ones."""
    rng = random.Random(7)
    vocab = [f"{a}{b}" for a in "가나다라마바사아자차카타" for b in "한글단어목록"]
    rows = [
        conv(i, " ".join(rng.sample(vocab, 6)), " ".join(rng.sample(vocab, 8))) for i in range(360)
    ]
    rows += [
        conv(
            400 + i,
            f"tool ask {i} {CITIES[i % 12]} weather code {i * 31}",
            f"It is {i % 30} degrees in {CITIES[i % 12]}, code {i * 7919}.",
            tool=True,
        )
        for i in range(40)
    ]
    groups = read(tmp_path, rows)
    placer = splitting.GroupPlacer(CFG, {})
    placed = placer.place_all(groups)
    tool_test = sum(1 for r in rows[360:] if placed[splitting.group_key(r)] == "test")
    plain_test = sum(1 for r in rows[:360] if placed[splitting.group_key(r)] == "test")
    by_hash = sum(1 for r in rows[360:] if splitting.bucket(splitting.group_key(r), CFG) == "test")
    print(
        f"\ntool-call items in test: {tool_test} of 40 (hash alone: {by_hash}); plain in test "
        f"{plain_test} of 360; strata {placer.strata}"
    )
    assert tool_test >= CFG.min_test_tool_items, f"only {tool_test} tool-call items in test"
    assert tool_test <= 20, f"more than half the tool items in test: {tool_test}"
    assert abs(plain_test - 36) <= 2, f"plain test share off 10%: {plain_test} of 360"


def test_no_groups_and_one_group_place_without_error(tmp_path):
    for rows in ([], [conv(0, "서울 날씨 어때?", "맑고 3도예요. 따뜻하게 입으세요.")]):
        groups = read(tmp_path, rows)
        placer = splitting.GroupPlacer(CFG, {})
        placed = placer.place_all(groups)
        leaks = splitting.leakage(placer, placed)
        assert len(placed) == len(rows), f"placed {placed} for {len(rows)} rows"
        assert leaks["unpinned"]["prompt"] == {"exact": 0, "near": 0}, f"leakage {leaks}"


def test_the_split_scale_benchmark_runs_small(capsys):
    """benchmarks/split_scale.py at 2k and 4k conversations (what README's figures come from at
    100k and 1M): it prints the per-record cost ratio and finds no leakage."""
    import sys

    from helpers import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import split_scale

    rows = split_scale.main(["--size", "2k,4k"])
    out = capsys.readouterr().out
    assert [r["records"] for r in rows] == [2000, 4000], f"records {[r['records'] for r in rows]}"
    assert "per-record cost at 4,000 / at 2,000" in out, out
    for r in rows:
        assert r["leakage"]["answer"] == {"exact": 0, "near": 0}, f"leakage {r['leakage']}"
