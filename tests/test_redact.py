"""Redaction: planted secrets and identifiers in chat sentences, and ordinary text left alone.

Every secret below is fake: built from repeated characters or published test values (AWS's
AKIAIOSFODNN7EXAMPLE, Stripe's and the card networks' test numbers, jwt.io's sample token).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from javis.data.redact import Redactor, card_valid, luhn_valid, rrn_valid

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"

GITHUB = "ghp_" + "a1B2c3D4e5F6" * 3
GITHUB_FINE = "github_pat_" + "11ABCDEFG0" * 8 + "xy"
SLACK_BOT = "xoxb-1234567890-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_HOOK = "hooks.slack.com/services/T00000000/B00000000/" + "X1y2Z3" * 4
OPENAI = "sk-proj-" + "Ab1Cd2Ef3Gh4" * 4
OPENAI_LEGACY = "sk-" + "a1B2c3D4" * 6
ANTHROPIC = "sk-ant-api03-" + "Zz9_Yy8-Xx7" * 4
GOOGLE = "AIzaSy" + "A1b2C3d4E5" * 3 + "f6G"
STRIPE = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
    "IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4UbaDzY5xjW7ZtQWr5dqkG1Y0Vh3n7R2p9LmSxqT0b\n"
    "Vt8jYkq3M1Fh2nXgW9sPq4ZrLcD6eJ0aB5tU7oI2wR8yN1mK3vC9xE4fH6gJ5\n-----END RSA PRIVATE KEY-----"
)

# (sentence, the secret in it, the placeholder it must become)
PLANTED = [
    ("내 AWS 키는 AKIAIOSFODNN7EXAMPLE 이야. 괜찮아?", "AKIAIOSFODNN7EXAMPLE", "SECRET:aws_key"),
    ("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "SECRET:aws_key"),
    (f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET, "SECRET:aws_secret"),
    (f"AWS 시크릿 키는 {AWS_SECRET} 입니다.", AWS_SECRET, "SECRET:aws_secret"),
    (f"Here is my GitHub token {GITHUB}, please push for me.", GITHUB, "SECRET:github_token"),
    (f"GITHUB_TOKEN={GITHUB_FINE}", GITHUB_FINE, "SECRET:github_token"),
    (f"token: {GITHUB}", GITHUB, "SECRET:github_token"),
    (f"슬랙 봇 토큰 {SLACK_BOT} 로 알림 보내 줘", SLACK_BOT, "SECRET:slack_token"),
    (f"Post to https://{SLACK_HOOK} when the build fails.", SLACK_HOOK, "SECRET:slack_token"),
    (f"OPENAI_API_KEY={OPENAI}", OPENAI, "SECRET:openai_key"),
    (f"이 키 써: {OPENAI_LEGACY}", OPENAI_LEGACY, "SECRET:openai_key"),
    (f"Claude key {ANTHROPIC} for the eval script", ANTHROPIC, "SECRET:generic_api_key"),
    (f"지도 API 키는 {GOOGLE} 이에요.", GOOGLE, "SECRET:google_api_key"),
    (f"stripe.api_key = '{STRIPE}'", STRIPE, "SECRET:stripe_key"),
    (f"The session cookie holds {JWT} and expires tomorrow.", JWT, "SECRET:jwt"),
    (f"Put this in ~/.ssh/id_rsa:\n{PEM}\nthen chmod 600 it.", PEM, "SECRET:private_key"),
    (
        "curl -H 'Authorization: Bearer abcDEF123456ghiJKL789mno' https://api.example.com",
        "abcDEF123456ghiJKL789mno",
        "SECRET:bearer_token",
    ),
    ('{"api_key": "a1b2c3d4e5f6g7h8"}', "a1b2c3d4e5f6g7h8", "SECRET:generic_api_key"),
    (
        "API_TOKEN=9f8e7d6c5b4a3210ffee in the .env file",
        "9f8e7d6c5b4a3210ffee",
        "SECRET:generic_api_key",
    ),
    ("토큰: abc123def456ghi 이걸로 로그인해", "abc123def456ghi", "SECRET:generic_api_key"),
    ("client_secret: Zq8x7W6v5U4t3S2r", "Zq8x7W6v5U4t3S2r", "SECRET:generic_api_key"),
    ("password: hunter2", "hunter2", "SECRET:password"),
    ("DB_PASSWORD=s3cr3t-pass", "s3cr3t-pass", "SECRET:password"),
    ("wifi pw: qwer1234 (guest network)", "qwer1234", "SECRET:password"),
    ("my password is Tr0ub4dor&3 so don't tell anyone", "Tr0ub4dor&3", "SECRET:password"),
    ("회사 비밀번호: abcd1234", "abcd1234", "SECRET:password"),
    ("집 와이파이 비번 5678wxyz 야", "5678wxyz", "SECRET:password"),
    ("비밀번호는 q1w2e3r4!야", "q1w2e3r4!", "SECRET:password"),
    ("psql postgres://admin:S3cretPw@db.example.com:5432/app", "S3cretPw", "SECRET:password"),
    ("Mail me at minjun.kim@example.co.kr tomorrow.", "minjun.kim@example.co.kr", "PII:email"),
    ("메일은 john+test@mail.example.com 으로 보내 줘", "john+test@mail.example.com", "PII:email"),
    ("제 번호는 010-1234-5678이에요.", "010-1234-5678", "PII:phone_kr"),
    ("01098765432로 문자 주세요", "01098765432", "PII:phone_kr"),
    ("From abroad call +82 10-2345-6789.", "+82 10-2345-6789", "PII:phone_kr"),
    ("사무실 번호는 02-123-4567 이고 내선은 3번", "02-123-4567", "PII:phone_kr"),
    ("지점: 031-987-6543", "031-987-6543", "PII:phone_kr"),
    ("대표번호 (02) 555-1234 로 연락", "(02) 555-1234", "PII:phone_kr"),
    ("Our SF office: +1 415 555 0100.", "+1 415 555 0100", "PII:phone_intl"),
    ("US support +1 (650) 253-0000, 24/7", "+1 (650) 253-0000", "PII:phone_intl"),
    ("London desk +44 20 7946 0958 (9-5)", "+44 20 7946 0958", "PII:phone_intl"),
    ("주민번호 900101-1234567 맞는지 봐 줘", "900101-1234567", "PII:rrn"),
    ("동생 주민등록번호는 020315-3456789", "020315-3456789", "PII:rrn"),
    ("외국인등록번호 851231-5123456", "851231-5123456", "PII:rrn"),
    ("카드 4111 1111 1111 1111 로 결제했어", "4111 1111 1111 1111", "PII:card"),
    ("Charge 5555-5555-5555-4444 please", "5555-5555-5555-4444", "PII:card"),
    ("amex 378282246310005 expires 12/27", "378282246310005", "PII:card"),
    ("card no. 4012888888881881.", "4012888888881881", "PII:card"),
    ("체크카드 번호 5500000000000004 맞아?", "5500000000000004", "PII:card"),
    ("Charge it to 6011 1111 1111 1117 today", "6011 1111 1111 1117", "PII:card"),
    ("JCB 3530111333300000 로 결제", "3530111333300000", "PII:card"),
    ("My cell is (415) 555-0198, text me.", "(415) 555-0198", "PII:phone_intl"),
    ("Reach the front desk at 212-555-0143.", "212-555-0143", "PII:phone_intl"),
    ("call me at 4155550100 tonight", "4155550100", "PII:phone_intl"),
    ("WhatsApp 44 7700 900123 after six", "44 7700 900123", "PII:phone_intl"),
    ("+14155550100 is the hotline", "+14155550100", "PII:phone_intl"),
]

ORDINARY = [
    "회의는 2026-11-27 10:30에 시작해요.",
    "점심은 3,000원짜리 김밥이었어.",
    "총액은 ₩15,000, 해외 결제는 $1,299.99 또는 €9.99였어요.",
    "v0.1에서 v0.2로 올리면 1.5x 빨라져요.",
    "Python 3.11.7 and torch 2.4.0 are installed.",
    "주문번호 A-20261127-0042 확인 부탁해요.",
    "Order #12345 shipped on 2026/11/27 at 14:05.",
    "x = 10\ny = x * 2\nprint(y)",
    "def total(token_count: int) -> int:\n    return token_count * 2",
    "요청 ID: 550e8400-e29b-41d4-a716-446655440000",
    "UUID 123e4567-e89b-12d3-a456-426614174000 is just an identifier.",
    "UUID('00000000-0000-0000-0000-009a5b27f8b9') and 41111111-1111-1111-1111-111111111111",
    "Boston, MA 02110-1301, USA",
    "문서는 https://docs.python.org/3/library/re.html 에 있어요.",
    "See http://localhost:8000/api/v1/users?page=2 for the list.",
    "비밀번호를 바꿔야 하는데 어떻게 해?",
    "비밀번호는 8자 이상이어야 해요.",
    "비번 바꿨어. 이제 괜찮아.",
    "The password is incorrect, try again.",
    "Reset your password: open Settings and tap Security.",
    "password_min_length = 12",
    "토큰 수를 줄이면 비용이 줄어요.",
    "시크릿 모드로 열어 봐.",
    "키는 180cm이고 몸무게는 70kg이야.",
    "max_tokens: 1024, temperature: 0.7",
    "tokenizer: gpt2-xl",
    "Sorry to be the bearer of bad news.",
    "The ratio is 16:9 and the score was 3:1.",
    "1+1=2, 2x3=6 and 10/2=5.",
    "오늘 기온은 -3도, 내일은 +5도래.",
    "전화번호는 010-XXXX-XXXX 형식으로 써 주세요.",
    "ssh user@localhost 로 접속해.",
    "@minjun 님 확인 부탁해요.",
    "scikit-learn is often shortened to sklearn, not sk-learn.",
    "GitHub tokens start with ghp_ and Stripe keys with sk_live_.",
    "python -m pip install javis==0.1.0",
    "git checkout 3f2a9c1d4e5b6a7f8091a2b3c4d5e6f708192a3b",
    "AWS region is ap-northeast-2 and the bucket is my-bucket-2026.",
    '{"id": 42, "name": "JAVIS", "secret": false}',
    "Call the API with `requests.get(url, timeout=10)`.",
    "Note: the meeting moved to Friday.",
    "전화 주세요! 저녁 7시 이후면 괜찮아요.",
    # Numbers in arithmetic, ids, ISBNs and dates (LLaMA-Factory's demo sets and chat).
    "Find the solution for 472547338 + 960397912423686. Numbers and symbols only, please.",
    "472547338\n+960397912423686\n-------\n1007411131329104",
    "answer 256626720691 + 1646615806005?\nThe result is:\n\n4212883012996",
    "Provide a step-by-step calculation for 355909190063-746.",
    "Could you work out 2930861750638 plus 52341951985411 for me?",
    '{"title": "Harry Potter", "ISBN": "9780747542155"}',
    "The tracking number is 123456789012.",
    "user id 482910375561 logged in at 1679433381",
    "I'll call you on 2026-11-27 at 10:00.",
    "Call the API 100000000 times and count the errors.",
    "카드 혜택은 2024-2025년에 바뀌어요.",
]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


def test_test_data_is_what_it_claims() -> None:
    assert len(PLANTED) >= 30
    assert len(ORDINARY) >= 25
    assert len(GOOGLE) == 39
    assert {placeholder for _, _, placeholder in PLANTED} >= {
        "SECRET:aws_key",
        "SECRET:aws_secret",
        "SECRET:github_token",
        "SECRET:slack_token",
        "SECRET:openai_key",
        "SECRET:google_api_key",
        "SECRET:stripe_key",
        "SECRET:jwt",
        "SECRET:private_key",
        "SECRET:password",
        "SECRET:bearer_token",
        "SECRET:generic_api_key",
        "PII:email",
        "PII:phone_kr",
        "PII:phone_intl",
        "PII:rrn",
        "PII:card",
    }


@pytest.mark.parametrize(("text", "secret", "placeholder"), PLANTED, ids=[p for _, _, p in PLANTED])
def test_planted_secret_is_replaced_by_its_placeholder(
    redactor: Redactor, text: str, secret: str, placeholder: str
) -> None:
    out, counts = redactor.redact(text)
    assert secret not in out
    assert f"<{placeholder}>" in out
    assert counts[placeholder] >= 1
    assert out == text.replace(secret, f"<{placeholder}>"), "only the secret itself is replaced"


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_unchanged(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == (text, {})


def test_labels_stay_and_only_values_go(redactor: Redactor) -> None:
    out, _ = redactor.redact(
        "password: hunter2 / 비밀번호는 abcd1234야 / Authorization: Bearer abcDEF123456ghiJKL"
    )
    assert out == (
        "password: <SECRET:password> / 비밀번호는 <SECRET:password>야 / "
        "Authorization: Bearer <SECRET:bearer_token>"
    )


@pytest.mark.parametrize(
    "number",
    ["4111 1111 1111 1112", "5555-5555-5555-4445", "378282246310006", "1234 5678 9012 3456"],
)
def test_luhn_invalid_card_numbers_stay(redactor: Redactor, number: str) -> None:
    assert not luhn_valid(number)
    text = f"카드번호 {number} 맞아?"
    assert redactor.redact(text) == (text, {})


@pytest.mark.parametrize(
    "rrn",
    [
        "901301-1234567",  # month 13
        "900132-1234567",  # day 32
        "900230-1234567",  # 30 February
        "010229-3123456",  # 29 February 2001 (not a leap year)
        "900101-9234567",  # gender digit 9
    ],
)
def test_rrn_with_an_impossible_birth_date_stays(redactor: Redactor, rrn: str) -> None:
    assert not rrn_valid(rrn)
    text = f"주민번호 {rrn} 입니다"
    assert redactor.redact(text) == (text, {})


def test_rrn_on_a_leap_day_is_redacted(redactor: Redactor) -> None:
    assert rrn_valid("000229-3123456")
    assert redactor.redact("000229-3123456")[0] == "<PII:rrn>"


def test_redaction_is_idempotent(redactor: Redactor) -> None:
    everything = "\n".join(text for text, _, _ in PLANTED) + "\n" + "\n".join(ORDINARY)
    once, counts = redactor.redact(everything)
    assert sum(counts.values()) >= len(PLANTED)
    twice, again = redactor.redact(once)
    assert twice == once
    assert again == {}
    for text, _, _ in PLANTED:
        single, _ = redactor.redact(text)
        assert redactor.redact(single) == (single, {})


def test_several_secrets_in_one_text_are_counted_per_type(redactor: Redactor) -> None:
    text = "메일 a@example.com, b@example.org / 전화 010-1111-2222 / key AKIAIOSFODNN7EXAMPLE"
    out, counts = redactor.redact(text)
    assert out == "메일 <PII:email>, <PII:email> / 전화 <PII:phone_kr> / key <SECRET:aws_key>"
    assert counts == {"PII:email": 2, "PII:phone_kr": 1, "SECRET:aws_key": 1}


def test_redact_record_works_in_place_over_every_text_field(redactor: Redactor) -> None:
    record = {
        "id": "sft-1",
        "messages": [
            {"role": "system", "content": "You are JAVIS."},
            {"role": "user", "content": "내 메일 minjun@example.com 으로 일정 보내 줘"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {
                            "name": "send_mail",
                            "arguments": '{"to": "minjun@example.com", "token": "abc123def456"}',
                        },
                    }
                ],
            },
            {"role": "tool", "content": "sent to minjun@example.com"},
            {"role": "assistant", "content": "보냈어요."},
        ],
        "source": "test",
        "meta": {"file": "a.jsonl", "line": 1},
    }
    counts = redactor.redact_record(record)
    assert counts == {"PII:email": 3, "SECRET:generic_api_key": 1}
    messages = record["messages"]
    assert messages[1]["content"] == "내 메일 <PII:email> 으로 일정 보내 줘"
    assert messages[2]["tool_calls"][0]["function"]["arguments"] == (
        '{"to": "<PII:email>", "token": "<SECRET:generic_api_key>"}'
    )
    assert messages[3]["content"] == "sent to <PII:email>"
    assert messages[4]["content"] == "보냈어요."
    assert redactor.redact_record(record) == {}


def test_preference_record_fields_are_redacted(redactor: Redactor) -> None:
    record = {
        "id": "pref-1",
        "prompt": [{"role": "user", "content": "비번 5678wxyz 기억해 둬"}],
        "chosen": [{"role": "assistant", "content": "비밀번호는 저장하지 않는 게 좋아요."}],
        "rejected": [{"role": "assistant", "content": "알겠어요, 비번 5678wxyz 저장했어요."}],
        "source": "test",
    }
    assert redactor.redact_record(record) == {"SECRET:password": 2}
    assert "5678wxyz" not in str(record)


PEM_BODY = "MIIEowIBAAKCAQEAx4UbaDzY5xjW7ZtQWr5dqkG1Y0Vh3n7R2p9LmSxqT0b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # pasted on one line
            f"key: -----BEGIN RSA PRIVATE KEY----- {PEM_BODY} {PEM_BODY} -----END RSA PRIVATE KEY----- ok",
            "key: <SECRET:private_key> ok",
        ),
        (  # inside a JSON string, newlines escaped
            f'{{"key": "-----BEGIN PRIVATE KEY-----\\n{PEM_BODY}\\n-----END PRIVATE KEY-----\\n"}}',
            '{"key": "<SECRET:private_key>\\n"}',
        ),
        (  # encrypted, with PEM headers
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89"
            f"\n\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----\nthanks",
            "<SECRET:private_key>\nthanks",
        ),
        (  # truncated: no END line; the base64 lines go, the question stays
            f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n{PEM_BODY[:20]}\n(truncated) can you fix it?",
            "<SECRET:private_key>\n(truncated) can you fix it?",
        ),
    ],
)
def test_private_key_blocks_in_any_shape(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact(text) == (expected, {"SECRET:private_key": 1})


# --- numbers: cards and phone numbers against arithmetic and ids (issue 15, item 2) -------------

# The LLaMA-Factory `dpo_en_demo.json` record whose numbers became `<PII:card>` and
# `<PII:phone_intl>` (hiyouga/LLaMA-Factory, data/dpo_en_demo.json, Apache-2.0).
DPO_ARITHMETIC = [
    "Find the solution for 472547338 + 960397912423686. Numbers and symbols only, please.",
    "472547338 + 960397912423686 = 960398384971024",
    "To find the solution for 472547338 + 960397912423686, simply add the two numbers together:"
    "\n\n472547338\n+960397912423686\n-------\n1007411131329104\n\nSo the sum is 1007411131329104.",
]


def test_the_arithmetic_sentence_of_dpo_en_demo_stays_as_it_is(redactor: Redactor) -> None:
    text = DPO_ARITHMETIC[0]
    out, counts = redactor.redact(text)
    assert out == text, f"the sum's operands were redacted: {out!r}"
    assert counts == {}, f"redactions counted on a sum: {counts}"


def test_the_whole_dpo_en_demo_record_stays_as_it_is(redactor: Redactor) -> None:
    out, counts = redactor.redact_texts(DPO_ARITHMETIC)
    assert out == DPO_ARITHMETIC, f"a number of the record was redacted: {out!r}"
    assert counts == {}, f"redactions counted on the record: {counts}"


def _luhn_completed(body: str) -> str:
    """`body` plus the check digit that makes it Luhn-valid."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def _random_luhn_numbers(prefixes: tuple[str, ...], length: int, n: int) -> list[str]:
    rng = random.Random(15)
    out = []
    for i in range(n):
        prefix = prefixes[i % len(prefixes)]
        body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
        out.append(_luhn_completed(body))
    return out


# Prefixes no card network issues (1 airlines, 7 petroleum, 8 telecom, 9 national use; 2 outside
# Mastercard's 2221-2720 and Mir's 2200-2204; 3 outside Amex, Diners and JCB).
BAD_IIN = ("1", "7", "8", "9", "20", "21", "28", "29", "31", "32", "33", "350", "3590")
BAD_IIN_NUMBERS = _random_luhn_numbers(BAD_IIN, 16, 60) + _random_luhn_numbers(BAD_IIN, 15, 30)


def test_bad_iin_numbers_are_luhn_valid_but_no_card_number() -> None:
    assert all(luhn_valid(n) for n in BAD_IIN_NUMBERS), "every test number passes Luhn"
    assert not [n for n in BAD_IIN_NUMBERS if card_valid(n)], "no test number has an issuer prefix"


@pytest.mark.parametrize("number", BAD_IIN_NUMBERS[:40:3])
def test_luhn_valid_numbers_with_a_bad_issuer_prefix_are_no_card(
    redactor: Redactor, number: str
) -> None:
    grouped = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    for text in (f"card {number}", f"카드 {grouped} 결제", f"{number} (credit)"):
        out, counts = redactor.redact(text)
        assert "PII:card" not in counts, f"{text!r} became {out!r}"


def test_one_random_luhn_valid_number_in_ten_is_still_no_card_without_a_word(
    redactor: Redactor,
) -> None:
    """A Luhn check alone passes one random number in ten; with an issuer prefix (4, Visa) bare
    runs still need a card word."""
    visa_like = _random_luhn_numbers(("4",), 16, 50)
    assert all(card_valid(n) for n in visa_like), "each has Visa's prefix, length and Luhn"
    hits = [n for n in visa_like if redactor.redact(f"the sum is {n}.")[1]]
    assert hits == [], f"bare numbers without a card word redacted: {hits}"


@pytest.mark.parametrize(
    "text",
    [
        "card 4111111111111111",
        "my credit card is 4111111111111111",
        "4111111111111111 is my Visa",
        "결제 카드 4111111111111111 로 해 줘",
        "cc# 4111111111111111",
    ],
)
def test_a_bare_16_digit_run_with_a_card_word_is_a_card(redactor: Redactor, text: str) -> None:
    out, counts = redactor.redact(text)
    assert counts == {"PII:card": 1}, f"{text!r} gave {counts}"
    assert out == text.replace("4111111111111111", "<PII:card>"), f"{text!r} became {out!r}"


def test_a_bare_16_digit_run_without_a_card_word_is_no_card(redactor: Redactor) -> None:
    text = "The answer is 4111111111111111."
    assert redactor.redact(text) == (text, {}), "a bare valid-looking number alone stays"


@pytest.mark.parametrize(
    "card", ["4111 1111 1111 1111", "5500-0000-0000-0004", "3782 822463 10005", "3056 930902 5904"]
)
def test_a_formatted_test_card_is_caught_without_a_word(redactor: Redactor, card: str) -> None:
    text = f"here: {card} thanks"
    out, counts = redactor.redact(text)
    assert counts == {"PII:card": 1}, f"{card!r} gave {counts}"
    assert out == "here: <PII:card> thanks", f"{card!r}: {out!r}"


@pytest.mark.parametrize(
    "number",
    [
        "4111 1111 11111111",  # mixed grouping
        "4111-1111 1111-1111",  # mixed separators
        "3782 8224 6310 005",  # Amex's 15 digits in groups of 4
        "4111 1111 1111 1111 1111",  # a fifth group: a longer number
    ],
)
def test_implausibly_grouped_numbers_are_no_card(redactor: Redactor, number: str) -> None:
    text = f"번호 {number} 확인"
    assert redactor.redact(text) == (text, {}), f"{number!r} was redacted"


def test_a_card_word_in_the_previous_turn_counts(redactor: Redactor) -> None:
    record = {
        "messages": [
            {"role": "user", "content": "내 카드 번호 기억해?"},
            {"role": "assistant", "content": "네, 4012888888881881 이에요."},
        ]
    }
    assert redactor.redact_record(record) == {"PII:card": 1}, "the answer's number is a card"
    assert record["messages"][1]["content"] == "네, <PII:card> 이에요.", record


def test_a_tool_argument_named_card_counts_as_its_word(redactor: Redactor) -> None:
    call = {"name": "pay", "arguments": {"card": "4012888888881881", "amount": 48200}}
    record = {"messages": [{"role": "assistant", "content": None, "tool_calls": [call]}]}
    assert redactor.redact_record(record) == {"PII:card": 1}, "the `card` key is the card word"
    assert call["arguments"] == {"card": "<PII:card>", "amount": 48200}, call


def test_a_number_far_from_the_card_word_is_no_card(redactor: Redactor) -> None:
    text = "My card was declined yesterday, so I solved this instead: 4111111111111111 - 1"
    assert redactor.redact(text) == (text, {}), "the word is over 48 characters before it"


@pytest.mark.parametrize(
    "phone",
    [
        "010-1234-5678",
        "01012345678",
        "010 1234 5678",
        "010.1234.5678",
        "02-123-4567",
        "02-1234-5678",
        "031-987-6543",
        "(02) 555-1234",
        "070-1234-5678",
        "+82 10-1234-5678",
        "+82-10-1234-5678",
        "+821012345678",
    ],
)
def test_korean_phone_formats_are_still_caught(redactor: Redactor, phone: str) -> None:
    text = f"제 번호는 {phone}이에요."
    out, counts = redactor.redact(text)
    assert counts == {"PII:phone_kr": 1}, f"{phone!r} gave {counts}"
    assert out == "제 번호는 <PII:phone_kr>이에요.", f"{phone!r}: {out!r}"


def test_plus_82_mobile_number_is_caught(redactor: Redactor) -> None:
    out, counts = redactor.redact("From abroad: +82 10-1234-5678")
    assert out == "From abroad: <PII:phone_kr>", out
    assert counts == {"PII:phone_kr": 1}, counts


def test_call_me_at_a_korean_mobile_is_caught(redactor: Redactor) -> None:
    out, counts = redactor.redact("call me at 010-9876-5432 after 6")
    assert out == "call me at <PII:phone_kr> after 6", out
    assert counts == {"PII:phone_kr": 1}, counts


@pytest.mark.parametrize("number", ["123456789012", "4155550100", "44 7700 900123"])
def test_a_bare_number_is_no_phone_without_a_phone_word(redactor: Redactor, number: str) -> None:
    text = f"Order id {number} shipped."
    assert redactor.redact(text) == (text, {}), f"{number!r} was redacted"


def test_the_same_number_beside_a_phone_word_is_a_phone(redactor: Redactor) -> None:
    out, counts = redactor.redact("My mobile: 4155550100.")
    assert out == "My mobile: <PII:phone_intl>.", out
    assert counts == {"PII:phone_intl": 1}, counts


@pytest.mark.parametrize(
    "text",
    [
        "472547338\n+960397912423686",
        "5 +14155550100 = 14155550105",
        "(12) +3456789012",
    ],
)
def test_a_plus_number_that_is_a_sum_s_operand_is_no_phone(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == (text, {}), f"{text!r} was redacted"


def test_a_plus_operand_beside_a_phone_word_is_a_phone(redactor: Redactor) -> None:
    out, counts = redactor.redact("phone 12\n+14155550100")
    assert out == "phone 12\n<PII:phone_intl>", out
    assert counts == {"PII:phone_intl": 1}, counts


@pytest.mark.parametrize(
    "text",
    ["I'll call you on 2026-11-27.", "Call center hours changed in 1999-2007.", "call 2026 11 27"],
)
def test_dates_beside_a_phone_word_are_no_phone(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == (text, {}), f"{text!r} was redacted"


def _corpus_counts() -> dict[str, dict[str, int]]:
    """Redactions per type in every file of ../shared/corpora, redacted record by record the way
    `benchmarks/redaction_fp.py` does (one list of strings per record, in order)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import redaction_fp
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    redactor = Redactor()
    out = {}
    for path in sorted(p for p in CORPORA.rglob("*") if p.is_file()):
        counts: dict[str, int] = {}
        for strings in redaction_fp.records_of(path):
            for kind, _ in redaction_fp.hits_in(redactor, strings):
                counts[kind] = counts.get(kind, 0) + 1
        out[str(path.relative_to(CORPORA))] = counts
    return out


# Reviewed by eye (`python benchmarks/redaction_fp.py --show`): every remaining number redaction in
# the corpora. None: the LLaMA-Factory sets hold sums, ids, ISBNs and dates, no card or phone number.
REVIEWED_NUMBER_HITS: dict[str, dict[str, int]] = {}


@pytest.mark.skipif(not CORPORA.is_dir(), reason=f"no third-party corpora at {CORPORA}")
def test_no_card_or_phone_redactions_on_the_third_party_corpora() -> None:
    counts = _corpus_counts()
    lf = [name for name in counts if name.startswith("llamafactory/") and name.endswith(".json")]
    assert lf, f"no LLaMA-Factory set under {CORPORA}"
    print(f"\nredactions per file in {CORPORA}:")
    for name, c in counts.items():
        print(f"  {name:45} {c or '-'}")
    for name, c in counts.items():
        want = REVIEWED_NUMBER_HITS.get(name, {})
        for kind in ("PII:card", "PII:phone_intl"):
            assert c.get(kind, 0) == want.get(kind, 0), (
                f"{name}: {c.get(kind, 0)} {kind} redactions, reviewed {want.get(kind, 0)}"
            )
