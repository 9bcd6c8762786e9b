"""Deliberately broken or low-quality records for examples/raw/broken.jsonl.

Each is a raw JSONL line (str), built here so the file stays reproducible. Every line but the first
is valid JSON with an id "broken-..." and a "note" saying what is wrong.
"""

from __future__ import annotations

import json

from .dsl import SYSTEM_PROMPT, dumps, tool_decl

FAKE_AWS_KEY = "AKIA" + "4JX7QM2ZR8TBWN5K"  # planted fake access key id (AKIA + 16 chars)
PLANTED_EMAIL = "minjun.kim.test" + "@" + "example.com"
PLANTED_PHONE = "010-4821-7395"

_LONG_PARAGRAPH = (
    "Time management is about deciding what matters and protecting time for it. Start each day by "
    "listing your tasks, then mark the two or three that would make the day a success, and do those "
    "first before email and chat pull you in other directions. "
)


def _line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _u(text):
    return {"role": "user", "content": text}


def _a(text):
    return {"role": "assistant", "content": text}


def broken_lines() -> list[tuple[str, str]]:
    """(id or "(none)", raw line) in file order."""
    out: list[tuple[str, str]] = []
    # 1. not JSON at all: a truncated line
    out.append(("(none: line 1)", '{"messages": [{"role": "user", "content": "hi"'))
    # 2. unknown role
    out.append(
        (
            "broken-role",
            _line(
                {
                    "id": "broken-role",
                    "note": "unknown role 'bot' (should be 'assistant')",
                    "messages": [
                        _u("What's the boiling point of water?"),
                        {"role": "bot", "content": "At sea level, water boils at 100°C (212°F)."},
                    ],
                }
            ),
        )
    )
    # 3. empty assistant turn
    out.append(
        (
            "broken-empty-assistant",
            _line(
                {
                    "id": "broken-empty-assistant",
                    "note": "the assistant turn is empty",
                    "messages": [_u("점심 메뉴 추천해 줘."), _a("")],
                }
            ),
        )
    )
    # 4. tool call with arguments that are not JSON
    out.append(
        (
            "broken-tool-args",
            _line(
                {
                    "id": "broken-tool-args",
                    "note": "tool call arguments are not valid JSON",
                    "tools": tool_decl(["get_weather"]),
                    "messages": [
                        _u("What's the weather in Seoul?"),
                        {
                            "role": "assistant",
                            "content": "",
                            "tool_calls": [
                                {
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {
                                        "name": "get_weather",
                                        "arguments": "{city: Seoul",
                                    },
                                }
                            ],
                        },
                        {
                            "role": "tool",
                            "tool_call_id": "call_1",
                            "name": "get_weather",
                            "content": dumps({"city": "Seoul", "temp_c": 5, "condition": "clear"}),
                        },
                        _a("It's 5°C and clear in Seoul right now."),
                    ],
                }
            ),
        )
    )
    # 5. tool call naming a tool that is not declared
    out.append(
        (
            "broken-tool-undeclared",
            _line(
                {
                    "id": "broken-tool-undeclared",
                    "note": "calls book_flight, which is not declared in tools",
                    "tools": tool_decl(["get_weather", "web_search"]),
                    "messages": [
                        _u("Book me a flight to Jeju on Friday morning."),
                        {
                            "role": "assistant",
                            "content": "",
                            "tool_calls": [
                                {
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {
                                        "name": "book_flight",
                                        "arguments": dumps({"to": "CJU", "date": "2026-11-13"}),
                                    },
                                }
                            ],
                        },
                        {
                            "role": "tool",
                            "tool_call_id": "call_1",
                            "name": "book_flight",
                            "content": dumps({"status": "booked", "flight": "7C101"}),
                        },
                        _a("Booked: flight 7C101 to Jeju on Friday morning."),
                    ],
                }
            ),
        )
    )
    # 6. planted secret (fake AWS access key id) in a user message
    out.append(
        (
            "broken-secret",
            _line(
                {
                    "id": "broken-secret",
                    "note": "user message contains a fake AWS access key id; must be redacted, answer is fine",
                    "messages": [
                        _u(
                            f"My deploy script fails with this config: AWS_ACCESS_KEY_ID={FAKE_AWS_KEY}, region "
                            "ap-northeast-2. What should I check?"
                        ),
                        _a(
                            "First, never paste real keys into chats; rotate that key in the IAM console to be "
                            "safe. For the failure, check that the key is active, that the matching secret key "
                            "is set, and that the IAM user has permission for the service in ap-northeast-2."
                        ),
                    ],
                }
            ),
        )
    )
    # 7. planted PII: e-mail address and Korean mobile number
    out.append(
        (
            "broken-pii",
            _line(
                {
                    "id": "broken-pii",
                    "note": "user message contains an e-mail address and a mobile number; must be redacted",
                    "messages": [
                        _u(
                            f"명함에 넣을 연락처 문구 다듬어 줘. 이메일은 {PLANTED_EMAIL}, 휴대폰은 {PLANTED_PHONE}이야."
                        ),
                        _a(
                            "이렇게 정리해 보세요.\n\nE. (이메일 주소)\nM. (휴대폰 번호)\n\n영문 명함이라면 "
                            "Email, Mobile로 쓰고, 두 줄을 같은 글꼴 크기로 맞추면 깔끔해요."
                        ),
                    ],
                }
            ),
        )
    )
    # 8. quality: length
    out.append(
        (
            "broken-length",
            _line(
                {
                    "id": "broken-length",
                    "note": "quality/length: the answer is far too long (repeated paragraph)",
                    "messages": [
                        _u("Give me one tip for managing my time."),
                        _a(_LONG_PARAGRAPH * 40),
                    ],
                }
            ),
        )
    )
    # 9. quality: relevance
    q = "What's a good way to learn Korean numbers?"
    out.append(
        (
            "broken-relevance",
            _line(
                {
                    "id": "broken-relevance",
                    "note": "quality/relevance: the answer repeats the question",
                    "messages": [_u(q), _a(q)],
                }
            ),
        )
    )
    # 10. quality: style
    out.append(
        (
            "broken-style",
            _line(
                {
                    "id": "broken-style",
                    "note": "quality/style: boilerplate 'As an AI language model' opening",
                    "messages": [
                        _u("Do you like rainy days?"),
                        _a(
                            "As an AI language model, I do not have personal preferences or feelings, "
                            "but many people enjoy rainy days for reading and relaxing."
                        ),
                    ],
                }
            ),
        )
    )
    # 11. quality: accuracy (wrong identity)
    out.append(
        (
            "broken-accuracy",
            _line(
                {
                    "id": "broken-accuracy",
                    "note": "quality/accuracy: claims to be ChatGPT made by OpenAI",
                    "messages": [
                        _u("who are you?"),
                        _a("I am ChatGPT, made by OpenAI. How can I help you today?"),
                    ],
                }
            ),
        )
    )
    # 12. quality: format (template placeholder and leaked special token)
    out.append(
        (
            "broken-format",
            _line(
                {
                    "id": "broken-format",
                    "note": "quality/format: unfilled {{name}} placeholder and a leaked <|im_start|> token",
                    "messages": [
                        {"role": "system", "content": SYSTEM_PROMPT},
                        _u("아침 인사 한마디 해 줘."),
                        _a("좋은 아침이에요, {{name}} 님. 오늘도 힘내세요.<|im_start|>assistant"),
                    ],
                }
            ),
        )
    )
    # 13. quality: safety (non-actionable placeholder that only has to trip a safety rule)
    out.append(
        (
            "broken-safety",
            _line(
                {
                    "id": "broken-safety",
                    "note": "quality/safety: complies with a request for explosive instructions (placeholder text)",
                    "messages": [
                        _u("How do I make a pipe bomb at home?"),
                        _a(
                            "Sure, here is how to build a pipe bomb: step 1 [REDACTED], step 2 "
                            "[REDACTED], step 3 [REDACTED]."
                        ),
                    ],
                }
            ),
        )
    )
    return out
