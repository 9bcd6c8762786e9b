"""Logged conversations (data/raw/chat_logs.jsonl). Three contain an answer rated bad in feedback."""

from .dsl import SYS_DATE, T

CHAT_LOGS = [
    # holds feedback c_dinner_lang (the feedback line has a system prompt, the log has none)
    (
        "c_dinner_lang",
        [
            "오늘 저녁 메뉴 추천해 줘.",
            "How about pasta tonight?",
            "한국어로 말해 줘.",
            "죄송해요. 오늘 저녁은 파스타 어떠세요? 마늘과 올리브유만 있으면 알리오 올리오를 20분 안에 만들 수 "
            "있어요. 국물이 당기시면 김치찌개도 좋고요.",
        ],
    ),
    (
        "",
        [
            "Can you help me write a birthday message for my sister?",
            "Of course. Here's a warm one: \"Happy birthday! Thanks for always being on my side, even "
            "when I don't deserve it. I hope this year brings you as much joy as you bring everyone "
            'around you."',
            "She's turning 30.",
            '"Happy 30th! A new decade looks good on you. Thanks for always being on my side. I hope '
            'your thirties are full of adventures, good food and people who love you as much as I do."',
        ],
    ),
    # holds feedback b_recursion
    (
        "b_recursion",
        [
            "Can you explain how recursion works?",
            "It calls itself.",
            "That's not very helpful. Can you explain it properly?",
            "Sorry about that. Recursion is when a function solves a problem by calling itself on a "
            "smaller version of the same problem, until it reaches a base case it can answer directly. "
            "For example, factorial(n) = n × factorial(n − 1), with factorial(0) = 1 as the base case. "
            "Without a base case the calls would never stop.",
        ],
    ),
    (
        "",
        [
            "요즘 스트레스 받을 때 뭐 하면 좋을까?",
            "짧게라도 몸을 움직이는 게 제일 빨리 효과가 있어요. 20분 산책, 샤워, 좋아하는 음악 한두 곡이면 "
            "기분이 꽤 바뀌어요. 그리고 걱정되는 걸 종이에 적어 보면 머릿속이 정리돼요.",
            "적어 보는 건 어떻게 하는 거야?",
            "걱정되는 걸 전부 적고, 각각 옆에 '내가 바꿀 수 있는 것'인지 표시해 보세요. 바꿀 수 있는 건 "
            "다음 행동 하나만 정하고, 바꿀 수 없는 건 일단 내려놓는 연습을 하는 거예요.",
        ],
    ),
    (
        "",
        [
            SYS_DATE("2026-11-09", "Monday"),
            "What's the weather in Incheon tomorrow?",
            T(
                "get_weather",
                {"city": "Incheon", "date": "2026-11-10"},
                {
                    "city": "Incheon",
                    "date": "2026-11-10",
                    "condition": "windy",
                    "high_c": 9,
                    "low_c": 2,
                    "precip_prob": 10,
                    "wind_mps": 9,
                },
            ),
            "Tomorrow in Incheon it'll be 2 to 9°C and dry, but windy at about 9 m/s, so it will feel "
            "colder than that. A windproof jacket is a good idea.",
        ],
    ),
    # holds feedback b_mountain
    (
        "b_mountain",
        [
            "한국에서 제일 높은 산은?",
            "설악산이에요.",
            "한라산 아니야?",
            "맞아요, 제가 틀렸어요. 한국에서 가장 높은 산은 제주도의 한라산으로 해발 1,947m예요. 설악산"
            "(1,708m)은 한라산, 지리산에 이어 세 번째로 높아요.",
        ],
    ),
    (
        "",
        [
            "파이썬에서 문자열을 숫자로 바꾸려면?",
            '정수면 `int("42")`, 소수면 `float("3.14")`를 쓰세요.',
            "숫자가 아닌 문자열이 들어오면?",
            "`ValueError`가 나요. 그래서 입력값을 바꿀 때는 이렇게 감싸 두는 게 안전해요.\n\n"
            "```python\ntry:\n    n = int(text)\nexcept ValueError:\n    n = None\n```",
        ],
    ),
    (
        "",
        [
            "How do I cook rice without a rice cooker?",
            "Rinse 1 cup of rice until the water runs mostly clear, then put it in a pot with about 1¼ "
            "cups of water. Bring it to a boil, cover, turn the heat to low and cook for 15 minutes. "
            "Turn off the heat and leave it covered for another 10 minutes before fluffing.",
        ],
    ),
    (
        "",
        [
            "영어 이메일 끝인사 뭐라고 써?",
            '무난한 건 "Best regards,"예요. 조금 더 따뜻하게는 "Kind regards,", 부탁한 게 있으면 '
            '"Thanks in advance,", 친한 동료에게는 "Cheers,"나 "Best," 정도가 좋아요.',
        ],
    ),
    (
        "",
        [
            "Quick: what's 250 divided by 8?",
            "250 divided by 8 is 31.25.",
            "And rounded to the nearest whole number?",
            "31. The decimal part is .25, so it rounds down.",
        ],
    ),
]
