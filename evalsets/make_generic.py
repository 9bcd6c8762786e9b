"""Writes evalsets/generic.jsonl: the forgetting set's generic reference answers, by a fixed rule.

Run `python evalsets/make_generic.py` (tests/test_eval_sets.py checks the shipped file equals its
output). Each family is a question template and its answer template in English and in Korean,
filled from the fixed tables below (no randomness): arithmetic, capitals, the next weekday or month,
unit conversions, opposites, the next letter, the larger number. An item's `group` is its family and
language ("add-en"): items of one template are correlated, so the evaluate stage's standard error of
the candidate-minus-base NLL delta is clustered by it. General facts a small instruct model already
states; what the set measures is whether fine-tuning made the base worse at saying them.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("generic.jsonl")

CAPITALS = [  # (country en, capital en, country ko, capital ko)
    ("France", "Paris", "프랑스", "파리"),
    ("Japan", "Tokyo", "일본", "도쿄"),
    ("Italy", "Rome", "이탈리아", "로마"),
    ("Germany", "Berlin", "독일", "베를린"),
    ("Spain", "Madrid", "스페인", "마드리드"),
    ("Canada", "Ottawa", "캐나다", "오타와"),
    ("Egypt", "Cairo", "이집트", "카이로"),
    ("Russia", "Moscow", "러시아", "모스크바"),
    ("China", "Beijing", "중국", "베이징"),
    ("the United Kingdom", "London", "영국", "런던"),
    ("South Korea", "Seoul", "한국", "서울"),
    ("Thailand", "Bangkok", "태국", "방콕"),
]
DAYS_EN = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
DAYS_KO = ["월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"]
MONTHS_EN = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
OPPOSITES_EN = [
    ("hot", "cold"), ("big", "small"), ("fast", "slow"), ("happy", "sad"), ("early", "late"),
    ("light", "dark"), ("open", "closed"), ("full", "empty"), ("strong", "weak"), ("rich", "poor"),
]  # fmt: skip
OPPOSITES_KO = [
    ("뜨겁다", "차갑다"), ("크다", "작다"), ("빠르다", "느리다"), ("기쁘다", "슬프다"),
    ("이르다", "늦다"), ("밝다", "어둡다"), ("열다", "닫다"), ("많다", "적다"), ("강하다", "약하다"),
    ("높다", "낮다"),
]  # fmt: skip
KO_CONSONANTS = "ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎ"
PAIRS = [(12, 7), (25, 18), (33, 41), (46, 9), (58, 27), (64, 35), (71, 16), (83, 52), (95, 44)]
SMALL = [(3, 4), (6, 7), (8, 9), (5, 12), (7, 11), (9, 6), (4, 15), (12, 12), (13, 3)]
KILOMETRES = [2, 3, 5, 7, 9, 12, 15, 20, 25]
HOURS = [2, 3, 4, 5, 6, 8, 10, 12, 24]


def families() -> list[tuple[str, list[tuple[str, str]]]]:
    """(group, [(question, answer), ...]) per family and language, in a fixed order."""
    f: list[tuple[str, list[tuple[str, str]]]] = []
    f.append(
        ("add-en", [(f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.") for a, b in PAIRS])
    )
    f.append(
        (
            "add-ko",
            [
                (f"{a} 더하기 {b}의 값은?", f"{a} 더하기 {b}의 값은 {a + b}입니다.")
                for a, b in PAIRS
            ],
        )
    )
    f.append(
        (
            "sub-en",
            [(f"What is {a} minus {b}?", f"{a} minus {b} is {a - b}.") for a, b in PAIRS if a > b],
        )
    )
    f.append(
        (
            "sub-ko",
            [
                (f"{a} 빼기 {b}의 값은?", f"{a} 빼기 {b}의 값은 {a - b}입니다.")
                for a, b in PAIRS
                if a > b
            ],
        )
    )
    f.append(
        ("mul-en", [(f"What is {a} times {b}?", f"{a} times {b} is {a * b}.") for a, b in SMALL])
    )
    f.append(
        (
            "mul-ko",
            [
                (f"{a} 곱하기 {b}의 값은?", f"{a} 곱하기 {b}의 값은 {a * b}입니다.")
                for a, b in SMALL
            ],
        )
    )
    f.append(
        (
            "capital-en",
            [
                (f"What is the capital of {c}?", f"The capital of {c} is {k}.")
                for c, k, _, _ in CAPITALS
            ],
        )
    )
    f.append(
        (
            "capital-ko",
            [(f"{c}의 수도는 어디야?", f"{c}의 수도는 {k}입니다.") for _, _, c, k in CAPITALS],
        )
    )
    f.append(
        (
            "weekday-en",
            [
                (f"What day comes after {d}?", f"The day after {d} is {DAYS_EN[(i + 1) % 7]}.")
                for i, d in enumerate(DAYS_EN)
            ],
        )
    )
    f.append(
        (
            "weekday-ko",
            [
                (f"{d} 다음 날은 무슨 요일이야?", f"{d} 다음 날은 {DAYS_KO[(i + 1) % 7]}입니다.")
                for i, d in enumerate(DAYS_KO)
            ],
        )
    )
    f.append(
        (
            "month-en",
            [
                (
                    f"Which month comes after {m}?",
                    f"The month after {m} is {MONTHS_EN[(i + 1) % 12]}.",
                )
                for i, m in enumerate(MONTHS_EN)
            ],
        )
    )
    f.append(
        (
            "month-ko",
            [
                (
                    f"{i + 1}월 다음 달은 몇 월이야?",
                    f"{i + 1}월 다음 달은 {(i + 1) % 12 + 1}월입니다.",
                )
                for i in range(12)
            ],
        )
    )
    f.append(
        (
            "km-en",
            [
                (f"How many meters are in {k} kilometers?", f"{k} kilometers is {k * 1000} meters.")
                for k in KILOMETRES
            ],
        )
    )
    f.append(
        (
            "km-ko",
            [
                (f"{k}킬로미터는 몇 미터야?", f"{k}킬로미터는 {k * 1000}미터입니다.")
                for k in KILOMETRES
            ],
        )
    )
    f.append(
        (
            "hours-en",
            [
                (f"How many minutes are in {h} hours?", f"{h} hours is {h * 60} minutes.")
                for h in HOURS
            ],
        )
    )
    f.append(
        ("hours-ko", [(f"{h}시간은 몇 분이야?", f"{h}시간은 {h * 60}분입니다.") for h in HOURS])
    )
    f.append(
        (
            "opposite-en",
            [
                (f"What is the opposite of '{w}'?", f"The opposite of '{w}' is '{o}'.")
                for w, o in OPPOSITES_EN
            ],
        )
    )
    f.append(
        (
            "opposite-ko",
            [
                (f"'{w}'의 반대말은 뭐야?", f"'{w}'의 반대말은 '{o}'입니다.")
                for w, o in OPPOSITES_KO
            ],
        )
    )
    letters = "BCDFGHJKMPRT"
    f.append(
        (
            "letter-en",
            [
                (
                    f"Which letter comes after {c} in the alphabet?",
                    f"The letter after {c} is {chr(ord(c) + 1)}.",
                )
                for c in letters
            ],
        )
    )
    f.append(
        (
            "letter-ko",
            [
                (
                    f"한글 자음에서 {c} 다음은 뭐야?",
                    f"한글 자음에서 {c} 다음은 {KO_CONSONANTS[i + 1]}입니다.",
                )
                for i, c in enumerate(KO_CONSONANTS[:-1])
            ],
        )
    )
    f.append(
        (
            "larger-en",
            [
                (f"Which is larger, {a} or {b}?", f"{max(a, b)} is larger than {min(a, b)}.")
                for a, b in PAIRS + SMALL
                if a != b
            ],
        )
    )
    f.append(
        (
            "larger-ko",
            [
                (f"{a}, {b} 중 더 큰 수는 뭐야?", f"{a}, {b} 중 더 큰 수는 {max(a, b)}입니다.")
                for a, b in PAIRS + SMALL
                if a != b
            ],
        )
    )
    return f


def items() -> list[dict]:
    out = []
    for group, pairs in families():
        for k, (question, answer) in enumerate(pairs, 1):
            out.append(
                {"id": f"{group}-{k:02d}", "group": group, "prompt": question, "answer": answer}
            )
    return out


def render() -> str:
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items())


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"{OUT}: {len(items())} items")
