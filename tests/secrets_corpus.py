"""Planted secrets and personal identifiers inside realistic conversations (English and Korean).

Every value is fake: built from patterns or published test values (card networks' test numbers,
AWS's documented example shapes). `PLANTED` lists (placeholder type, the planted string); `files()`
returns the raw and feedback lines that carry them, in every place a record holds text: user,
assistant, system and tool turns, tool-call arguments (as a string and as an object), a message's
`name`, feedback responses and corrections, preference and KTO records, and lines the stages
reject (bad JSON, too large, invalid records, low quality, duplicates), where a secret must be
redacted as well.
"""

from __future__ import annotations

import json

AWS_KEY = "AKIAQ7RZ3M5K2LX9B4TW"
AWS_SECRET = "h7Xq2LmN9pR4sT6vW8yZ1aB3cD5eF7gH9jK2mN4p"
GOOGLE = "AIzaSyD" + "q3R5t7V9x1Z2b4C6d8F0" + "hJkLmNpQrStU"
GITHUB = "ghp_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbAz"
GITHUB_FINE = "github_pat_" + "11AQRZ7KY0" * 8 + "q7"
SLACK_BOT = "xoxb-2024112701-5550001234567-" + "QwErTyUiOpAsDfGhJkLzXcVb"
SLACK_HOOK = "hooks.slack.com/services/T0JAVIS01/B0ALERT02/" + "Kp9Lm8Nq7Rs6Tu5Vw4Xy3Zb2"
OPENAI = "sk-proj-" + "Mz4Nq8Rt2Vx6Bz1Cd5Fh9Jk3" * 2
ANTHROPIC = "sk-ant-api03-" + "Pq7_Rs6-Tu5Vw4Xy3Zb2Cd1" * 2
STRIPE = "sk_test_" + "51JavisTestKey9Xq8Wr7Et6Ty"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJtaW5qdW4iLCJyb2xlIjoiYWRtaW4iLCJpYXQiOjE3MzI2NzIwMDB9"
    ".Q2hvc2VuUmFuZG9tU2lnbmF0dXJlVmFsdWUxMjM0NTY"
)
BEARER = "tok_9Fh2Kq7Lm3Np8Rs4Tv6Wx"
PEM_BODY = "MIIEpAIBAAKCAQEA3Tz2mr7SuFDJmQ8fJ4Yk1bN6wq0Vd9Hc5Ls2Ge8Pa7Xo1Rk"
PEM = (
    f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n{PEM_BODY[::-1]}\n-----END RSA PRIVATE KEY-----"
)
SSH = f"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA{PEM_BODY}\n-----END OPENSSH PRIVATE KEY-----"
PW_EN = "Blue-Otter-42!"
PW_ENV = "pg-Adm1n-2024"
PW_KO = "minjun0915!"
PW_KO2 = "seoul2024##"
URL_PW = "Sup3rS3cret"
API_KEY = "a8f3c91e77d24b05b6e2"
TOKEN_KO = "tk9Q2wE4rT6yU8iO"
EMAIL_1 = "minjun.kim1990@gmail.com"
EMAIL_2 = "jiyeon.park@company.co.kr"
EMAIL_3 = "hr-team@startup-example.io"
EMAIL_4 = "dad.kim@naver.com"
PHONE_1 = "010-4821-7733"
PHONE_2 = "01093847261"
PHONE_3 = "02-555-0172"
PHONE_4 = "+82 10-7733-4821"
PHONE_5 = "031-725-9988"
INTL_1 = "+1 415 555 0134"
INTL_2 = "+44 20 7946 0321"
INTL_3 = "+81 3-5555-0142"
INTL_4 = "(415) 555-0198"  # no +: written as a North American number
INTL_5 = "4155550177"  # no +, no grouping: beside "call me at"
RRN_1 = "900915-1234567"
RRN_2 = "021107-4123456"
RRN_3 = "851231-5123456"
CARD_1 = "4111 1111 1111 1111"
CARD_2 = "5555-5555-5555-4444"
CARD_3 = "378282246310005"
CARD_4 = "4012888888881881"
CARD_5 = "5500000000000004"  # bare, in a tool call's `card` argument
# Only reaches reject files: a secret cut by the reject's size limit must not leak its first part.
CUT_KEY = "AKIAZ8Y7X6W5V4U3T2S1"
CUT_PW = "Cut-Me-Not-7781"

PLANTED: list[tuple[str, str]] = [
    ("SECRET:aws_key", AWS_KEY),
    ("SECRET:aws_secret", AWS_SECRET),
    ("SECRET:google_api_key", GOOGLE),
    ("SECRET:github_token", GITHUB),
    ("SECRET:github_token", GITHUB_FINE),
    ("SECRET:slack_token", SLACK_BOT),
    ("SECRET:slack_token", SLACK_HOOK),
    ("SECRET:openai_key", OPENAI),
    ("SECRET:generic_api_key", ANTHROPIC),
    ("SECRET:stripe_key", STRIPE),
    ("SECRET:jwt", JWT),
    ("SECRET:bearer_token", BEARER),
    ("SECRET:private_key", PEM),
    ("SECRET:private_key", SSH),
    ("SECRET:password", PW_EN),
    ("SECRET:password", PW_ENV),
    ("SECRET:password", PW_KO),
    ("SECRET:password", PW_KO2),
    ("SECRET:password", URL_PW),
    ("SECRET:generic_api_key", API_KEY),
    ("SECRET:generic_api_key", TOKEN_KO),
    ("PII:email", EMAIL_1),
    ("PII:email", EMAIL_2),
    ("PII:email", EMAIL_3),
    ("PII:email", EMAIL_4),
    ("PII:phone_kr", PHONE_1),
    ("PII:phone_kr", PHONE_2),
    ("PII:phone_kr", PHONE_3),
    ("PII:phone_kr", PHONE_4),
    ("PII:phone_kr", PHONE_5),
    ("PII:phone_intl", INTL_1),
    ("PII:phone_intl", INTL_2),
    ("PII:phone_intl", INTL_3),
    ("PII:phone_intl", INTL_4),
    ("PII:phone_intl", INTL_5),
    ("PII:rrn", RRN_1),
    ("PII:rrn", RRN_2),
    ("PII:rrn", RRN_3),
    ("PII:card", CARD_1),
    ("PII:card", CARD_2),
    ("PII:card", CARD_3),
    ("PII:card", CARD_4),
    ("PII:card", CARD_5),
    ("SECRET:aws_key", CUT_KEY),
    ("SECRET:password", CUT_PW),
]

SYSTEM = "You are JAVIS, the personal assistant of Minjun Kim (김민준)."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "send_email",
            "parameters": {
                "type": "object",
                "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "pay",
            "parameters": {
                "type": "object",
                "properties": {"card": {"type": "string"}, "amount": {"type": "number"}},
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "lookup_contact",
            "parameters": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    },
]


def u(text: str, **extra: object) -> dict:
    return {"role": "user", "content": text, **extra}


def a(text: str | None, **extra: object) -> dict:
    return {"role": "assistant", "content": text, **extra}


def call(name: str, args: object, cid: str = "call_1") -> dict:
    """An assistant turn calling `name`; `args` a JSON string or an object (both are accepted)."""
    return a(
        None,
        tool_calls=[{"id": cid, "type": "function", "function": {"name": name, "arguments": args}}],
    )


def _straddle(head: str, secret: str, at: int, tail: str) -> str:
    """`head`, padded with "z" and a space so that `secret` starts at character `at`, then `secret`,
    a space and `tail`."""
    assert len(head) < at, (len(head), at)
    return head + "z" * (at - len(head) - 1) + " " + secret + " " + tail


def raw_lines() -> list[dict | str]:
    """data/raw/secrets.jsonl: one conversation per line (a str is written as it is)."""
    ko_done = (
        "알겠습니다. 이런 정보는 대화에 남기지 않는 게 안전해요. 비밀번호 관리자에 보관하세요."
    )
    en_done = "Got it. Please keep credentials in a password manager rather than in chat."
    lines: list[dict | str] = [
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                u(
                    f"배포 스크립트가 안 돼. AWS 키는 {AWS_KEY} 이고 aws_secret_access_key = {AWS_SECRET} 야."
                ),
                a(
                    "키를 대화에 붙여 넣으셨어요. 지금 바로 IAM 콘솔에서 그 키를 비활성화하고 새로 발급하세요."
                ),
            ]
        },
        {
            "messages": [
                u(f"Why does the maps call fail? I pass key={GOOGLE} in the URL."),
                a(
                    "Check that the Maps JavaScript API is enabled for that project, and restrict the key "
                    "to your domain. Also rotate it, since it has now been shared."
                ),
            ]
        },
        {
            "messages": [
                u(f"CI에서 push가 막혀. GITHUB_TOKEN={GITHUB} 넣었는데 왜 그럴까?"),
                a(
                    "토큰 권한에 repo 범위가 없으면 push가 거부돼요. 새 토큰을 만들 때 repo 권한을 켜 주세요."
                ),
            ]
        },
        {
            "messages": [
                u("Which token do I use for the release workflow?"),
                a(
                    f"The fine-grained one you made last week: {GITHUB_FINE}. Store it as a repository "
                    "secret, not in the workflow file."
                ),
            ]
        },
        {
            "messages": [
                u(
                    f"슬랙 알림 봇 토큰은 {SLACK_BOT} 이고 웹훅은 https://{SLACK_HOOK} 야. 빌드 실패하면 알려 줘."
                ),
                a("좋아요. 빌드가 실패하면 그 채널로 알림을 보내도록 설정할게요."),
            ]
        },
        {
            "messages": [
                {"role": "system", "content": f"{SYSTEM} OPENAI_API_KEY={OPENAI}"},
                u("Summarise today's meetings in two lines."),
                a(
                    "Morning: roadmap review with the design team. Afternoon: budget sync, moved to Friday."
                ),
            ]
        },
        {
            "messages": [
                u(f"이 키로 평가 스크립트 돌려 줘: {ANTHROPIC}"),
                a(
                    "평가 스크립트는 환경 변수에서 키를 읽게 바꾸는 게 좋아요. 코드에 키를 두지 마세요."
                ),
            ]
        },
        {
            "messages": [
                u(f"stripe.api_key = '{STRIPE}' 로 테스트 결제가 안 돼요."),
                a("테스트 모드 키가 맞는지, 그리고 웹훅 서명 비밀이 같은 모드인지 확인해 보세요."),
            ]
        },
        {
            "messages": [
                u(f"My session cookie is {JWT}; why does the admin page say 403?"),
                a(
                    "The token's role claim is checked against the route's policy. Log out and back in "
                    "so a fresh token is issued, then try again."
                ),
            ]
        },
        {
            "messages": [
                u(
                    f"curl -H 'Authorization: Bearer {BEARER}' https://api.example.com/v1/me 가 401이야."
                ),
                a("토큰이 만료됐을 가능성이 커요. 새로 발급받아서 다시 호출해 보세요."),
            ]
        },
        {"messages": [u(f"서버 접속 키 백업해 줘:\n{PEM}"), a(ko_done)]},
        {
            "messages": [
                u("Can you check my deploy key?"),
                a(f"Here is the key you saved earlier:\n{SSH}\nAdd it to ~/.ssh with mode 600."),
            ]
        },
        {"messages": [u(f"Remember this: my password is {PW_EN} for the home NAS."), a(en_done)]},
        {
            "messages": [
                u(f"docker-compose에 DB_PASSWORD={PW_ENV} 로 넣었는데 연결이 안 돼."),
                a(
                    "컨테이너를 다시 만들어야 새 환경 변수가 적용돼요. docker compose up -d --force-recreate 를 실행해 보세요."
                ),
            ]
        },
        {"messages": [u(f"회사 메일 비밀번호는 {PW_KO}야. 잊어버릴까 봐."), a(ko_done)]},
        {
            "messages": [
                u("공유기 설정 좀 도와줘."),
                a(
                    f"관리자 페이지에 들어가서 비번: {PW_KO2} 를 입력한 다음 무선 설정 메뉴로 가세요."
                ),
            ]
        },
        {
            "messages": [
                u(f"psql postgres://minjun:{URL_PW}@db.internal:5432/app 이 timeout 나."),
                a(
                    "방화벽에서 5432 포트가 열려 있는지, 그리고 DB 서버가 실행 중인지 확인해 보세요."
                ),
            ]
        },
        {
            "messages": [
                u(f"weather_service api_key: {API_KEY} 로 호출하면 돼?"),
                a("네, 그 서비스는 쿼리 문자열 대신 헤더로 키를 받으니 X-Api-Key 헤더에 넣으세요."),
            ]
        },
        {
            "messages": [
                u(f"사내 위키 토큰: {TOKEN_KO} 이걸로 로그인하면 돼?"),
                a("네, 하지만 토큰은 곧 만료되니 다음엔 SSO로 로그인하세요."),
            ]
        },
        # PII
        {
            "messages": [
                u(f"이력서 보낼 주소는 {EMAIL_3} 맞지? 내 메일은 {EMAIL_1} 이고."),
                a("네, 채용 담당 주소로 보내시면 돼요. 제목에 지원 직무를 꼭 적으세요."),
            ]
        },
        {
            "messages": [
                u("지연 씨한테 회의록 보내 줘"),
                call(
                    "send_email",
                    json.dumps({"to": EMAIL_2, "body": "회의록 첨부합니다."}, ensure_ascii=False),
                ),
                {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "sent"}'},
                a("박지연 님께 회의록을 보냈어요."),
            ],
            "tools": TOOLS,
        },
        {
            "messages": [
                u("아빠 메일 주소 뭐였지?"),
                call("lookup_contact", {"name": "아빠"}),
                {
                    "role": "tool",
                    "tool_call_id": "call_1",
                    "content": json.dumps({"email": EMAIL_4, "phone": PHONE_5}, ensure_ascii=False),
                },
                a("아빠 연락처를 찾았어요. 메일과 전화번호는 연락처 앱에서 확인하세요."),
            ],
            "tools": TOOLS,
        },
        {
            "messages": [
                u(f"택배 기사님이 {PHONE_1}로 연락 준대. 저장해 줘."),
                a("연락처에 택배 기사님 번호로 저장해 둘게요."),
            ]
        },
        {
            "messages": [
                u(f"엄마 번호 {PHONE_2} 로 저녁 7시에 전화하라고 알려 줘."),
                a("저녁 7시에 엄마께 전화하라고 알림을 맞춰 둘게요."),
            ]
        },
        {
            "messages": [
                u(f"서울 사무실 대표번호가 {PHONE_3} 맞나?"),
                a("네, 대표번호는 맞아요. 내선 연결은 안내 멘트 후 번호를 누르세요."),
            ]
        },
        {
            "messages": [
                u(f"When abroad, reach me on {PHONE_4}."),
                a("Noted: I'll use that number while you travel."),
            ]
        },
        {
            "messages": [
                u(f"Add the SF office, {INTL_1}, and the London desk, {INTL_2}, to my contacts."),
                a("Both numbers are saved under 'Offices'."),
            ]
        },
        {
            "messages": [
                u("도쿄 지사 연락처 알려 줘"),
                a(f"도쿄 지사는 {INTL_3} 이에요. 업무 시간은 오전 9시부터예요."),
            ]
        },
        {
            "messages": [
                u(f"연말정산 서류에 내 주민번호 {RRN_1} 적으면 돼?"),
                a("네, 그 칸에 적으시면 돼요. 다만 서류를 메일로 보낼 때는 암호를 걸어 보내세요."),
            ]
        },
        {
            "messages": [
                u(f"동생 주민등록번호 {RRN_2} 로 가족관계증명서 뗄 수 있어?"),
                a("정부24에서 본인 인증 후 가족관계증명서를 발급받을 수 있어요."),
            ]
        },
        {
            "messages": [
                u(
                    f"My colleague's alien registration number is {RRN_3}; is that the right format?"
                ),
                a("Yes, six digits of birth date, a dash, then seven digits."),
            ]
        },
        {
            "messages": [
                u(f"카드 {CARD_1} 로 결제했는데 승인 문자가 안 왔어."),
                a("카드사 앱에서 승인 내역을 먼저 확인해 보세요. 없으면 결제가 취소된 거예요."),
            ]
        },
        {
            "messages": [
                u("Pay the electricity bill."),
                call("pay", {"card": CARD_2, "amount": 48200}),
                {"role": "tool", "tool_call_id": "call_1", "content": '{"ok": true}'},
                a("Paid 48,200 won for electricity."),
            ],
            "tools": TOOLS,
        },
        {
            "messages": [
                u(f"amex {CARD_3} expires 12/27, save it for travel bookings"),
                a(
                    "I won't store card numbers; your browser's password manager keeps them encrypted."
                ),
            ]
        },
        {
            "messages": [
                u("누가 이 메시지 보냈어?", name=EMAIL_1),
                a("회사 보안팀이 보낸 공지예요."),
            ]
        },
        {
            "messages": [
                u(f"My cell is {INTL_4}; if I don't answer, call me at {INTL_5}."),
                a("Saved both numbers to your contact card."),
            ]
        },
        {
            "messages": [
                u("Pay the gas bill with the other card."),
                call("pay", {"card": CARD_5, "amount": 31500}),
                {"role": "tool", "tool_call_id": "call_1", "content": '{"ok": true}'},
                a("Paid 31,500 won for gas."),
            ],
            "tools": TOOLS,
        },
        # Records the stages reject still hold the planted text: they must be redacted too.
        {
            "messages": [
                {"role": "bot", "content": f"카드 {CARD_4} 로 결제할까요?"},
                a("네, 그 카드로 결제해 주세요."),
            ]
        },  # invalid_role
        {"messages": [u(f"내 AWS 키 {AWS_KEY} 확인"), a("?")]},  # quality: too short
        {
            "messages": [
                u(
                    f"배포 스크립트가 안 돼. AWS 키는 {AWS_KEY} 이고 aws_secret_access_key = {AWS_SECRET} 야."
                ),
                a(
                    "키를 대화에 붙여 넣으셨어요. 지금 바로 IAM 콘솔에서 그 키를 비활성화하고 새로 발급하세요."
                ),
            ]
        },  # dup
        '{"messages": [{"role": "user", "content": "token '
        + GITHUB
        + " and "
        + EMAIL_1
        + '"}',  # bad JSON
        # A bad JSON line and a line over collect.max_line_bytes: a reject keeps only an excerpt
        # of the line (2,000 and 200 characters); a key straddling that cut must not leak its start.
        _straddle(
            '{"broken": "' + f"password: {CUT_PW} " + "x" * 1900,
            CUT_KEY,
            2000 - 12,
            " " + "y" * 3000,
        ),
        _straddle(
            '{"messages": [{"role": "user", "content": "' + f"email {EMAIL_2} ",
            CUT_KEY,
            200 - 14,
            "log line " * 130_000 + '"}, {"role": "assistant", "content": "ok"}]}',
        ),
    ]
    return lines


def feedback_lines() -> list[dict]:
    """data/feedback/feedback.jsonl: rated answers whose prompt, answer or correction hold PII."""
    return [
        {
            "messages": [u(f"내 메일 {EMAIL_4} 로 일정 보내 줘")],
            "response": "보냈어요!",
            "rating": "good",
            "model_version": "javis-v0.1",
        },
        {
            "messages": [u("내 카드 번호 기억해?")],
            "response": f"네, {CARD_4} 이에요.",
            "rating": "bad",
            "correction": "카드 번호는 저장하지 않아요. 카드사 앱에서 확인하세요.",
            "model_version": "javis-v0.1",
        },
        {
            "messages": [u("Who do I call about the lease?")],
            "response": "Your landlord.",
            "rating": "bad",
            "correction": f"Call the landlord, Mr. Lee, at {PHONE_1} after 6 pm.",
            "model_version": "javis-v0.1",
        },
    ]


def preference_lines() -> list[dict]:
    """data/raw/pairs.jsonl: a preference pair and a KTO record with planted text."""
    return [
        {
            "prompt": [u(f"Send the invoice to {EMAIL_3}")],
            "chosen": [a("Sent the invoice to the HR team's address.")],
            "rejected": [a(f"Sent to {EMAIL_3} with your card {CARD_1} attached.")],
        },
        {
            "prompt": [u("What's my Slack webhook?")],
            "completion": [a(f"It is https://{SLACK_HOOK}.")],
            "label": False,
        },
    ]
