"""Synthetic chat logs and feedback for the data-stage benchmarks: a year of one person's chats.

    python benchmarks/gen.py OUT_DIR --size 100000 [--seed 0]

Writes OUT_DIR/data/raw/2025-MM.jsonl (twelve monthly files of ChatML conversations),
OUT_DIR/data/feedback/feedback.jsonl (ratings and corrections, our feedback format) and
OUT_DIR/truth.json (what was planted: the benchmark's answer key, never read by the stages).

What a line is (fractions of `--size` lines, all drawn from one seeded `random.Random`, so the same
seed always gives byte-identical files):
- ~86% original conversations: English or Korean (about half each), 1-4 user/assistant turns, a
  system prompt in ~30%, tool calls against declared tools in ~12%, an e-mail, phone number or key
  in ~2% (redaction work), a low-quality answer in ~3% (non-answers, "As an AI language model",
  "I am ChatGPT", shouting: the clean stage's rejects);
- ~5% exact duplicates: an earlier conversation logged again under a new id;
- ~5% near duplicates: an earlier conversation with 0.5-3.5% of its answer words replaced (word
  3-gram Jaccard ~0.85-0.98 on long ones, lower on short ones; the benchmark measures it);
- ~2% malformed: cut-off JSON, a JSON array, invalid UTF-8 (collect rejects), a role "bot", an
  empty answer, an undeclared tool (clean rejects);
- feedback for ~2%: good, bad, or bad with a correction; a third of the bad ones rate an answer
  that is in the logs, so collect cuts it out of that conversation.
Text comes from sentence pools built from templates and word lists (a sentence is drawn from
~10^5, a conversation holds 3-15 of them), so two originals share next to no word 3-grams: every
high-similarity pair is one the generator planted. About 1.2 KB per line; 100k lines in ~3 s.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import deque
from pathlib import Path

import orjson

SYSTEM_PROMPT = (
    "You are JAVIS, the personal assistant of Minjun Kim (김민준). Answer concisely and warmly, "
    "in the language the user writes in (Korean or English)."
)
MONTHS = 12
RING = 20_000  # originals a duplicate may copy: the last RING clean ones (bounded memory)

# --- English ---------------------------------------------------------------------------------------
EN_NOUN = (
    "meeting report budget deadline presentation invoice schedule recipe garden bicycle laptop "
    "keyboard battery charger printer spreadsheet database server script function class module "
    "library framework tutorial article essay letter email message reminder calendar appointment "
    "dentist doctor prescription vitamin workout run marathon swim yoga stretch breakfast lunch "
    "dinner snack soup salad pasta noodles rice kimchi dumplings coffee tea smoothie bread cake "
    "cookie flight ticket hotel passport visa suitcase train bus taxi subway route map museum park "
    "beach mountain trail camera photo album playlist podcast movie series novel poem song guitar "
    "piano lesson exam homework project thesis interview resume portfolio salary loan mortgage "
    "insurance tax refund receipt contract lease apartment kitchen bathroom window curtain sofa "
    "lamp plant sister brother mother father grandmother friend colleague manager client neighbor "
    "teacher puppy kitten birthday anniversary wedding party gift card present vacation weekend "
    "holiday morning evening habit routine goal plan list draft summary outline agenda slide chart "
    "graph metric dashboard query index cache queue thread process container cluster backup "
    "password account profile setting update feature bug test release version branch commit"
).split()
EN_VERB = (
    "write fix plan book cancel move organize review summarize translate explain compare choose "
    "prepare cook bake clean pack schedule track measure improve shorten rewrite check update "
    "install configure deploy debug refactor test document reschedule split merge sort filter "
    "export import back up restore share print sign send answer postpone finish start"
).split()
EN_ADJ = (
    "quick short long simple detailed polite formal casual friendly cheap healthy quiet early late "
    "weekly monthly daily urgent important small large new old better safer faster cleaner "
    "spicy sweet warm cold fresh rainy sunny busy free flexible"
).split()
EN_CITY = (
    "Seoul Busan Incheon Daegu Daejeon Gwangju Suwon Jeonju Gangneung Sokcho Jeju Tokyo Osaka "
    "Kyoto Taipei Singapore Bangkok London Paris Berlin Lisbon Vancouver Boston Sydney"
).split()
EN_NAME = (
    "Jiwoo Seoyeon Minseo Hayoon Doyun Eunwoo Siwoo Jiho Yuna Taeyang Sora Hana Daniel Emma "
    "Olivia Noah Liam Sophie Lucas Mia Ethan Chloe"
).split()
EN_DAY = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday tomorrow tonight today".split()
EN_Q = (
    "Can you help me {v} the {n} for {d}?",
    "How do I {v} a {a} {n} without a {n2}?",
    "What is the best way to {v} my {n} before the {n2} on {d}?",
    "Could you {v} this {n} so it sounds more {a}?",
    "Is it a good idea to {v} the {n} in {c} this {d}?",
    "I need a {a} {n} for {p}. Any ideas?",
    "Remind me how to {v} the {n} after the {n2}.",
    "Which {n} should I pick for a {a} {n2}?",
    "What should I say to {p} about the {n}?",
    "Why does my {n} keep failing when I {v} the {n2}?",
    "Give me a {a} plan to {v} the {n} by {d}.",
    "How long does it take to {v} a {n} in {c}?",
    "{p} asked me to {v} the {n}. Where do I start?",
    "Quick question: should the {n} be {a} or {a2}?",
    "My {n} broke again after I tried to {v} it. Help?",
    "Write a {a} note to {p} saying the {n} moves to {d}.",
    "Is {k} minutes enough to {v} a {n}?",
    "Compare a {a} {n} with a {a2} {n2} for me.",
    "What do people in {c} usually do with an old {n}?",
    "Draft three bullet points about the {n} for {d}'s meeting.",
    "Explain {n} like I'm five.",
    "Any tips for a {a} {n} in {c} on {d}?",
    "I spent {k} dollars on the {n}. Was that too much?",
    "{p} says the {n} is {a}. Is that true?",
    "Translate 'the {n} is {a}' into Korean.",
    "Can you {v} my {n} and {v2} the {n2} too?",
    "What's wrong with this {n}: it keeps getting {a}.",
    "Help me plan {d}: {n}, {n2}, then {p}.",
    "Summarize why the {n} matters for the {n2}.",
    "Where in {c} can I find a {a} {n}?",
)
EN_A = (
    "Start by {ving} the {n} first, then deal with the {n2}.",
    "A {a} option is to {v} the {n} on {d} and keep the {n2} for later.",
    "If the {n} is {a}, {v} it in two steps so the {n2} stays {a2}.",
    "Most people in {c} {v} their {n} in the morning, when the {n2} is {a}.",
    "You could ask {p} to {v} the {n} while you handle the {n2}.",
    "Keep the {n} {a} and add one line about the {n2} at the end.",
    "That usually happens when the {n} is {a}; {v} the {n2} and try again.",
    "Set aside {k} minutes on {d} to {v} the {n}.",
    "Here is a {a} version: {v} the {n}, then the {n2}, and stop there.",
    "Budget about {k} dollars for the {n} and {m} for the {n2}.",
    "I would {v} the {n} now and leave the {a} {n2} until {d}.",
    "Write down what the {n} needs, {v} the {a} parts, then review the {n2}.",
    "For {p}, a {a} {n} works better than a {a2} {n2}.",
    "The {n} in {c} is {a} on {d}, so plan the {n2} around it.",
)

# --- Korean ---------------------------------------------------------------------------------------
KO_NOUN = (
    "회의 보고서 예산 마감 발표 일정 레시피 자전거 노트북 키보드 배터리 충전기 프린터 데이터베이스 "
    "서버 스크립트 함수 모듈 라이브러리 기사 에세이 편지 이메일 메시지 알림 달력 약속 치과 병원 처방전 "
    "비타민 운동 마라톤 수영 요가 스트레칭 아침 점심 저녁 간식 국수 김치찌개 된장찌개 만두 커피 녹차 "
    "빵 케이크 쿠키 항공권 호텔 여권 비자 캐리어 기차 버스 택시 지하철 지도 박물관 공원 바다 산 등산로 "
    "카메라 사진 앨범 플레이리스트 팟캐스트 영화 드라마 소설 노래 기타 피아노 수업 시험 숙제 프로젝트 "
    "논문 면접 이력서 포트폴리오 월급 대출 보험 세금 환불 영수증 계약서 아파트 부엌 화분 동생 형 "
    "엄마 아빠 할머니 친구 동료 팀장님 고객 이웃 선생님 강아지 고양이 생일 기념일 결혼식 선물 휴가 "
    "주말 연휴 습관 루틴 목표 계획 목록 초안 요약 목차 안건 슬라이드 차트 그래프 대시보드 쿼리 캐시 "
    "백업 계정 프로필 설정 업데이트 기능 버그 테스트 배포 브랜치 커밋"
).split()
KO_VERB = (  # (plain stem for "-하는 방법", polite form)
    ("정리하는", "정리하세요"),
    ("준비하는", "준비하세요"),
    ("예약하는", "예약하세요"),
    ("취소하는", "취소하세요"),
    ("요약하는", "요약하세요"),
    ("번역하는", "번역하세요"),
    ("비교하는", "비교하세요"),
    ("고르는", "고르세요"),
    ("만드는", "만드세요"),
    ("고치는", "고치세요"),
    ("확인하는", "확인하세요"),
    ("줄이는", "줄이세요"),
    ("바꾸는", "바꾸세요"),
    ("보내는", "보내세요"),
    ("미루는", "미루세요"),
    ("나누는", "나누세요"),
    ("기록하는", "기록하세요"),
    ("설정하는", "설정하세요"),
    ("백업하는", "백업하세요"),
    ("테스트하는", "테스트하세요"),
    ("끝내는", "끝내세요"),
    ("시작하는", "시작하세요"),
)
KO_ADJ = (
    "간단한 자세한 짧은 긴 정중한 편한 싼 건강한 조용한 급한 중요한 작은 큰 새로운 더 나은 안전한 빠른 "
    "깔끔한 매운 달콤한 따뜻한 시원한 바쁜 여유로운"
).split()
KO_CITY = "서울 부산 인천 대구 대전 광주 수원 전주 강릉 속초 제주 도쿄 오사카 교토 타이베이 방콕 런던 파리".split()
KO_NAME = "지우 서연 민서 하윤 도윤 은우 시우 지호 유나 태양 소라 하나 민준 서준".split()
KO_DAY = "월요일 화요일 수요일 목요일 금요일 토요일 일요일 내일 오늘 모레 이번주 다음주".split()
KO_Q = (
    "{n}{eul} {v} 방법 알려줘.",
    "{d}까지 {n}{eul} {v} 게 좋을까?",
    "{a} {n} 추천해 줄래?",
    "{p}한테 {n} 얘기를 어떻게 꺼내면 좋을까?",
    "{c}에서 {n}{eul} {v} 데 얼마나 걸려?",
    "{n} 때문에 {n2}{i2} 자꾸 안 돼. 왜 그럴까?",
    "{d} {n} 전에 {n2}{eul2} 어떻게 {v} 게 나을까?",
    "{a} {n2}에 맞는 {n} 좀 골라 줘.",
    "{n}{eul} 좀 더 {a} 느낌으로 바꿔 줘.",
    "{p}{i3} {n}{eul} 부탁했는데 뭐부터 하지?",
    "혹시 {n}{eun} {a} 게 나아?",
    "{n} 또 고장 났어. {v} 방법 없을까?",
    "{p}한테 {n}{i} {d}로 바뀌었다고 {a} 문자 써 줘.",
    "{k}분이면 {n}{eul} 다 {v} 게 가능할까?",
    "{a} {n}{wa} {n2} 비교해 줘.",
    "{c} 사람들은 오래된 {n}{eul} 보통 어떻게 해?",
    "{d} 회의용으로 {n} 관련 요점 세 개만 적어 줘.",
    "{n}{i} 뭔지 쉽게 설명해 줘.",
    "{d} {c}에서 {n} 할 때 팁 있어?",
    "{n}에 {k}만 원 썼는데 너무 많이 쓴 걸까?",
    "{p}{i3} {n}{i} {a} 편이래. 진짜야?",
    "'{n}{i} {a}'를 영어로 번역해 줘.",
    "{n} 정리하고 {n2}도 같이 봐 줄래?",
    "{n}{i} 자꾸 {a} 상태가 돼. 뭐가 문제야?",
    "{d} 계획 좀 짜 줘. {n}, {n2}, 그다음 {p} 만나기.",
    "{n}{i} {n2}에 왜 중요한지 요약해 줘.",
    "{c}에서 {a} {n} 파는 곳 어디야?",
)
KO_A = (
    "먼저 {n}{eul} {vp}. 그다음에 {n2}{eul2} 보시면 돼요.",
    "{a} 방법은 {d}에 {n}{eul} {v} 거예요.",
    "{n}{i} {a} 편이라면 두 번에 나눠서 {vp}.",
    "{c}에서는 보통 아침에 {n}{eul} {v} 경우가 많아요.",
    "{p} 님께 {n}{eul} 부탁하고 {n2}{eun2} 직접 챙기시는 걸 추천해요.",
    "{n}{eun} {a} 상태로 두고 마지막에 {n2} 얘기를 한 줄 덧붙이세요.",
    "보통 {n}{i} {a} 때 그런 문제가 생겨요. {n2}{eul2} {vp}.",
    "{d}에 {k}분 정도 시간을 내서 {n}{eul} {vp}.",
    "예산은 {n}에 {k}만 원, {n2}에 {m}만 원 정도 잡으시면 돼요.",
    "지금 {n}{eul} {v} 게 좋고, {a} {n2}{eun2} {d}로 미뤄도 괜찮아요.",
    "{n}에 필요한 걸 먼저 적고, {a} 부분부터 {vp}.",
    "{c}의 {n}{eun} {d}에 {a} 편이라 {n2} 계획을 거기에 맞추세요.",
)

# --- what the clean stage should reject, and what redaction should find ----------------------------
LOW_QUALITY = (
    "I don't know.",
    "모르겠어요.",
    "As an AI language model, I cannot have opinions about {n}.",
    "I am ChatGPT, a model made by OpenAI.",
    "저는 ChatGPT입니다.",
    "Sure!!!!!! Great question!!!!!! {n}!!!!!!",
    "Assistant: here you go.",
    "The answer is [citation needed].",
)
PII = (
    "My email is {p}.{k}@example.com, send it there.",
    "제 번호는 010-{k:04d}-{m:04d}이에요.",
    "The AWS key is AKIA{key} if you need it.",
    "Call me at +82 10 {k:04d} {m:04d} after six.",
)
KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

TOOLS = {
    "get_weather": ({"city": "string", "date": "string"}, ("city",)),
    "create_calendar_event": (
        {"title": "string", "start": "string", "end": "string"},
        ("title", "start"),
    ),
    "set_reminder": ({"text": "string", "time": "string"}, ("text", "time")),
    "search_web": ({"query": "string"}, ("query",)),
    "send_message": ({"to": "string", "text": "string"}, ("to", "text")),
    "convert_currency": (
        {"amount": "number", "from": "string", "to": "string"},
        ("amount", "from", "to"),
    ),
}
TOOL_SCHEMAS = {
    name: {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name.replace('_', ' ').capitalize()}.",
            "parameters": {
                "type": "object",
                "properties": {k: {"type": t} for k, t in props.items()},
                "required": list(required),
            },
        },
    }
    for name, (props, required) in TOOLS.items()
}


def _batchim(word: str) -> bool:
    """Whether a Hangul word ends in a final consonant (을/은/이 after it, else 를/는/가)."""
    last = word[-1]
    return "가" <= last <= "힣" and (ord(last) - 0xAC00) % 28 != 0


def _ko_fill(templates: tuple[str, ...], size: int, rng: random.Random) -> list[str]:
    """`size` Korean sentences: templates with their slots drawn at random (particles agree)."""
    nouns = [
        (n, *(("을", "은", "이", "과") if _batchim(n) else ("를", "는", "가", "와")))
        for n in KO_NOUN
    ]
    cols = zip(
        rng.choices(templates, k=size),
        rng.choices(nouns, k=size),
        rng.choices(nouns, k=size),
        rng.choices(KO_VERB, k=size),
        rng.choices(KO_ADJ, k=size),
        rng.choices(KO_CITY, k=size),
        rng.choices(KO_NAME, k=size),
        rng.choices(KO_DAY, k=size),
        rng.choices(range(2, 91), k=size),
        rng.choices(range(2, 91), k=size),
        strict=True,
    )
    return [
        t.format(
            n=n[0],
            eul=n[1],
            eun=n[2],
            i=n[3],
            wa=n[4],
            n2=n2[0],
            eul2=n2[1],
            eun2=n2[2],
            i2=n2[3],
            v=v[0],
            vp=v[1],
            a=a,
            c=c,
            p=p,
            i3="이" if _batchim(p) else "가",
            d=d,
            k=k,
            m=m,
        )
        for t, n, n2, v, a, c, p, d, k, m in cols
    ]


def _en_fill(templates: tuple[str, ...], size: int, rng: random.Random) -> list[str]:
    """`size` English sentences: templates with their slots drawn at random."""
    verbs = [(v, v[:-1] + "ing" if v.endswith("e") else v + "ing") for v in EN_VERB]
    cols = zip(
        rng.choices(templates, k=size),
        rng.choices(EN_NOUN, k=size),
        rng.choices(EN_NOUN, k=size),
        rng.choices(verbs, k=size),
        rng.choices(verbs, k=size),
        rng.choices(EN_ADJ, k=size),
        rng.choices(EN_ADJ, k=size),
        rng.choices(EN_CITY, k=size),
        rng.choices(EN_NAME, k=size),
        rng.choices(EN_DAY, k=size),
        rng.choices(range(2, 91), k=size),
        rng.choices(range(2, 91), k=size),
        strict=True,
    )
    return [
        t.format(n=n, n2=n2, v=v[0], ving=v[1], v2=v2[0], a=a, a2=a2, c=c, p=p, d=d, k=k, m=m)
        for t, n, n2, v, v2, a, a2, c, p, d, k, m in cols
    ]


class Pools:
    """Sentence pools per language and role (5*10^4 questions, 10^5 answers each)."""

    def __init__(self, rng: random.Random, questions: int = 50_000, answers: int = 100_000) -> None:
        self.q = {"en": _en_fill(EN_Q, questions, rng), "ko": _ko_fill(KO_Q, questions, rng)}
        self.a = {"en": _en_fill(EN_A, answers, rng), "ko": _ko_fill(KO_A, answers, rng)}
        self.words = {
            "en": sorted({w for s in self.a["en"][:5000] for w in s.split()}),
            "ko": sorted({w for s in self.a["ko"][:5000] for w in s.split()}),
        }


class Generator:
    """One seeded stream of log lines and feedback lines (see the module docstring)."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.pools = Pools(self.rng)
        self.ring: deque[tuple[str, dict]] = deque(
            maxlen=RING
        )  # (id, conversation) of clean originals
        self.truth: dict = {
            "exact": {},
            "near": {},
            "malformed": {},
            "low_quality": [],
            "pii": [],
            "rated_bad_in_logs": [],
            "counts": {},
        }
        self.feedback: list[bytes] = []

    # -- conversations --------------------------------------------------------------------------
    def answer(self, lang: str) -> str:
        rng, pool = self.rng, self.pools.a[lang]
        k = 2 + int(rng.random() * 6)
        return " ".join(pool[int(rng.random() * len(pool))] for _ in range(k))

    def question(self, lang: str) -> str:
        pool = self.pools.q[lang]
        text = pool[int(self.rng.random() * len(pool))]
        if self.rng.random() < 0.4:  # some context before the question
            a = self.pools.a[lang]
            text = a[int(self.rng.random() * len(a))] + " " + text
        return text

    def tool_turns(self, lang: str) -> tuple[list[dict], list[str]]:
        rng = self.rng
        name = rng.choice(list(TOOLS))
        props, required = TOOLS[name]
        city = rng.choice(EN_CITY)
        args = {
            k: (
                rng.randint(1, 500)
                if t == "number"
                else f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                if k in ("date", "start", "end", "time")
                else city
                if k == "city"
                else rng.choice(EN_NAME)
                if k == "to"
                else "KRW"
                if k == "from"
                else "USD"
                if k == "to"
                else self.pools.q[lang][int(rng.random() * 1000)][:40]
            )
            for k, t in props.items()
            if k in required or rng.random() < 0.5
        }
        call_id = f"call_{rng.randint(1, 99999)}"
        result = {
            "ok": True,
            "tool": name,
            "value": rng.randint(-10, 40),
            "note": rng.choice(EN_ADJ),
        }
        turns = [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": name, "arguments": orjson.dumps(args).decode()},
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": call_id,
                "name": name,
                "content": orjson.dumps(result).decode(),
            },
        ]
        others = [t for t in TOOLS if t != name]
        declared = sorted([name, *rng.sample(others, rng.randint(0, 2))])
        return turns, declared

    def original(self) -> tuple[dict, str]:
        """A new conversation and what it plants: "clean", "low_quality", "pii"."""
        rng = self.rng
        lang = "ko" if rng.random() < 0.5 else "en"
        conv: dict = {}
        messages: list[dict] = []
        if rng.random() < 0.3:
            messages.append({"role": "system", "content": SYSTEM_PROMPT})
        turns = rng.choices((1, 2, 3, 4), weights=(40, 30, 20, 10))[0]
        tools = rng.random() < 0.12
        for t in range(turns):
            messages.append({"role": "user", "content": self.question(lang)})
            if tools and t == 0:
                calls, declared = self.tool_turns(lang)
                messages += calls
                conv["tools"] = [TOOL_SCHEMAS[n] for n in declared]
            messages.append({"role": "assistant", "content": self.answer(lang)})
        planted = "clean"
        u = rng.random()
        if u < 0.03:
            text = rng.choice(LOW_QUALITY).format(n=rng.choice(EN_NOUN))
            messages[-1] = {"role": "assistant", "content": text}
            planted = "low_quality"
        elif u < 0.05:
            key = "".join(rng.choice(KEY_CHARS) for _ in range(16))
            text = rng.choice(PII).format(
                p=rng.choice(EN_NAME).lower(),
                k=rng.randint(0, 9999),
                m=rng.randint(0, 9999),
                key=key,
            )
            user = next(m for m in messages if m["role"] == "user")
            user["content"] = f"{user['content']} {text}"
            planted = "pii"
        conv["messages"] = messages
        return conv, planted

    def near(self, conv: dict) -> dict:
        """A copy with 0.5-3.5% of the answer words replaced by other words of the same language."""
        rng = self.rng
        messages = [dict(m) for m in conv["messages"]]
        answers = [m for m in messages if m["role"] == "assistant" and m.get("content")]
        words = [m["content"].split(" ") for m in answers]
        total = sum(len(w) for w in words)
        lang = "ko" if any("가" <= c <= "힣" for c in answers[0]["content"]) else "en"
        vocab = self.pools.words[lang]
        edits = max(1, round(total * rng.uniform(0.005, 0.035)))
        for _ in range(edits):
            i = rng.randrange(len(words))
            j = rng.randrange(len(words[i]))
            words[i][j] = vocab[int(rng.random() * len(vocab))]
        for m, w in zip(answers, words, strict=True):
            m["content"] = " ".join(w)
        return {**conv, "messages": messages}

    def malformed(self, conv_id: str) -> tuple[bytes, str]:
        rng = self.rng
        conv, _ = self.original()
        kind = rng.choice(
            ("cut_json", "json_array", "not_utf8", "role_bot", "empty_answer", "undeclared_tool")
        )
        if kind == "cut_json":
            raw = orjson.dumps({"id": conv_id, **conv})
            return raw[: len(raw) // 2], kind
        if kind == "json_array":
            return orjson.dumps([conv_id, conv["messages"]]), kind
        if kind == "not_utf8":
            raw = orjson.dumps({"id": conv_id, **conv})
            cut = len(raw) // 2
            return raw[:cut] + b"\xff\xfe" + raw[cut:], kind
        messages = conv["messages"]
        if kind == "role_bot":
            messages[-1] = {"role": "bot", "content": messages[-1]["content"]}
        elif kind == "empty_answer":
            messages[-1] = {"role": "assistant", "content": ""}
        else:
            messages.insert(
                len(messages) - 1,
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_x",
                            "type": "function",
                            "function": {"name": "book_flight", "arguments": "{}"},
                        }
                    ],
                },
            )
            messages.insert(
                len(messages) - 1, {"role": "tool", "tool_call_id": "call_x", "content": "{}"}
            )
        return orjson.dumps({"id": conv_id, **conv}), kind

    def rate(self, conv_id: str, conv: dict, n: int) -> None:
        """A feedback line about this conversation's last answer (good, bad, or bad + correction)."""
        rng = self.rng
        messages = conv["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        prompt = [m for m in messages[:last] if m["role"] != "system"]
        lang = "ko" if any("가" <= c <= "힣" for c in messages[last]["content"]) else "en"
        u = rng.random()
        line: dict = {
            "id": f"fb-{n:07d}",
            "created_at": f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T09:00:00Z",
            "model_version": "javis-v0.1",
        }
        if u < 0.35 and any(m["role"] == "assistant" for m in messages[:last]):
            # The logged answer itself is rated bad: collect cuts it out of this conversation.
            line |= {"messages": prompt, "response": messages[last]["content"], "rating": "bad"}
            self.truth["rated_bad_in_logs"].append(conv_id)
        elif u < 0.7:
            line |= {
                "messages": prompt,
                "response": self.answer(lang),
                "rating": "good",
                "score": 5,
            }
        elif u < 0.85:
            line |= {"messages": prompt, "response": self.answer(lang), "rating": "bad", "score": 2}
        else:
            line |= {
                "messages": prompt,
                "response": self.answer(lang),
                "rating": "bad",
                "correction": self.answer(lang),
            }
        self.feedback.append(orjson.dumps(line) + b"\n")

    def line(self, n: int) -> bytes:
        """Log line number n (0-based) as bytes, newline included."""
        rng = self.rng
        conv_id = f"conv-{n:07d}"
        u = rng.random()
        counts = self.truth["counts"]
        if u < 0.02:
            raw, kind = self.malformed(conv_id)
            self.truth["malformed"][conv_id] = kind
            counts["malformed"] = counts.get("malformed", 0) + 1
            return raw + b"\n"
        if u < 0.07 and self.ring:
            orig_id, conv = self.ring[int(rng.random() * len(self.ring))]
            self.truth["exact"][conv_id] = orig_id
            counts["exact"] = counts.get("exact", 0) + 1
            return orjson.dumps({"id": conv_id, **conv}) + b"\n"
        if u < 0.12 and self.ring:
            orig_id, conv = self.ring[int(rng.random() * len(self.ring))]
            self.truth["near"][conv_id] = orig_id
            counts["near"] = counts.get("near", 0) + 1
            return orjson.dumps({"id": conv_id, **self.near(conv)}) + b"\n"
        conv, planted = self.original()
        counts[planted] = counts.get(planted, 0) + 1
        if planted == "clean":
            if rng.random() < 0.02:
                self.rate(conv_id, conv, len(self.feedback))
            else:
                self.ring.append((conv_id, conv))
        elif planted == "low_quality":
            self.truth["low_quality"].append(conv_id)
        else:
            self.truth["pii"].append(conv_id)
        return orjson.dumps({"id": conv_id, **conv}) + b"\n"


def generate(out: str | Path, size: int, seed: int = 0) -> dict:
    """Write `size` log lines (+ feedback) under out/data; returns the truth (also out/truth.json)."""
    out = Path(out)
    raw, fb = out / "data" / "raw", out / "data" / "feedback"
    raw.mkdir(parents=True, exist_ok=True)
    fb.mkdir(parents=True, exist_ok=True)
    gen = Generator(seed)
    per_month = -(-size // MONTHS)
    n = 0
    total_bytes = 0
    for month in range(1, MONTHS + 1):
        lines = [gen.line(i) for i in range(n, min(size, n + per_month))]
        n += len(lines)
        data = b"".join(lines)
        total_bytes += len(data)
        (raw / f"2025-{month:02d}.jsonl").write_bytes(data)
    feedback = b"".join(gen.feedback)
    (fb / "feedback.jsonl").write_bytes(feedback)
    truth = gen.truth
    truth["counts"] |= {
        "lines": size,
        "feedback": len(gen.feedback),
        "bytes": total_bytes + len(feedback),
    }
    (out / "truth.json").write_bytes(orjson.dumps(truth, option=orjson.OPT_SORT_KEYS))
    return truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="folder to write data/raw, data/feedback and truth.json under")
    ap.add_argument("--size", type=int, default=100_000, help="log lines (conversations)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    truth = generate(args.out, args.size, args.seed)
    print(orjson.dumps(truth["counts"]).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
