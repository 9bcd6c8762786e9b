"""Secret and PII redaction: every rule compiled into one regex, so a text is scanned once.

One module, over the ~400-line guide on purpose: it is one table of rules (`RULES`, with the
checks and label tables it refers to, ~560 lines) and the one engine that compiles that table into
a regex (~180 lines); every rule's pattern is written for the engine's anchor scheme below, so the
two are read together.

A match becomes a typed placeholder (`<SECRET:aws_key>`, `<PII:email>`, ...). Rules that find a
secret by its label ("password:", "api_key=", "Bearer", "비밀번호는") keep the label and replace only
the value. Matches that a regex cannot judge alone are checked afterwards (card numbers by issuer
prefix, length and Luhn, resident registration numbers by their birth date, label values by their
shape); a match that fails its check is left as it is, the next rule on the same anchor is tried
at that place, then scanning resumes one character later.

Numbers are where ordinary text looks most like PII (sums, ids, ISBNs), so number rules also look
at the words around a match (`Rule.words`, within `_NEAR_BEFORE`/`_NEAR_AFTER` characters; before
a match, in the text as redacted so far, and in the end of the record's previous string): a bare
digit run is a card only beside a card or payment word, a number without `+` is a phone number
only beside a phone word unless it is written as one (`(650) 253-0000`), and a `+` number that is
a sum's operand ("472547338\n+960397912423686") needs a phone word too. Measured on the
LLaMA-Factory demo sets and the samples by `benchmarks/redaction_fp.py`.

The secret patterns are adapted from gitleaks' default rules (gitleaks/gitleaks
`config/gitleaks.toml`, cited by rule id) and detect-secrets' regex plugins (Yelp/detect-secrets
`detect_secrets/plugins/*.py`, cited by file). Their entropy scoring is not used: it flags ordinary
chat words. Ordinary text (dates, times, prices, versions, UUIDs, plain URLs, code) stays unchanged,
and redacting redacted text changes nothing.

How it stays fast (mixed Korean/English chat, one core: ~55 MB/s as one text, ~40 MB/s record
by record on examples/, ~18 MB/s for records of 46-byte messages, where per-call costs dominate;
the same rules as a plain alternation ran at ~1 MB/s): every rule starts at an *anchor*
character, and the combined regex is an alternation of single-character literals
(`A(?:...)|-(?:...)|@(?:...)|...`), so `re` skips every other character in C without entering
the pattern. Anchors are rare characters where possible: an e-mail anchors on `@`, `sk-` keys on
`-`, labelled values on their `:`/`=`. What belongs to a match before its anchor (the e-mail's
local part, the `sk` of `sk-`) is matched by the rule's `left` regex on the few characters before
the anchor, and a label is matched backwards from its separator: the variable-width lookbehind
that `re` lacks.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from javis.data.records import all_text_fields

_HANGUL = r"\uac00-\ud7a3\u3130-\u318f"
# ASCII boundaries (after the anchor character has been consumed, so they look two back): `\b`
# treats Hangul as a word character, and "AKIA...입니다" or "010-1234-5678로" must still match.
_START = r"(?<![A-Za-z0-9_].)"  # no ASCII word character before the anchor
_END = r"(?![A-Za-z0-9_-])"
_LABEL_START = r"(?<![A-Za-z0-9_<].)"  # also not inside a placeholder `<SECRET:...>`
_NUM_START = r"(?<![0-9A-Za-z.+-].)"  # not inside a longer number, version, UUID or word
# A value after a label: 4+ characters up to whitespace, a quote, a bracket or Hangul (so "1234야"
# keeps its particle), not ending in `.,;:` or a closing bracket ("!" and "?" stay: passwords use them).
_VALUE = rf"[^\s'\"`<>{_HANGUL}]{{3,255}}[^\s'\"`<>{_HANGUL}.,;:)\]}}]"
_SEP = r"[ \t]{0,8}(?:=>|:=|[:=：])[ \t]{0,8}"
# After a Korean label: "비번: x", "비밀번호는 x", "비번 x".
_KO_SEP = rf"(?:{_SEP}|[ \t]{{0,8}}[은는이가을를]?[ \t]{{0,8}}[:=]?[ \t]{{0,8}})"
# A password of letters only must end the line, be quoted or meet Hangul ("비번은 sunshine이야"):
# "Password: open Settings" and "the password is incorrect, try again" are prose.
_WORD_PASSWORD_END = re.compile(rf"[ \t]{{0,8}}(?:['\"`]|\n|\Z)|[{_HANGUL}]")
_WINDOW = 72  # characters before an anchor that a `left` regex may see (a local part is <= 64)
# Every quantifier is bounded (a secret is at most a few KB): a rejected candidate then costs a
# bounded scan, so no input makes redaction quadratic ("token=token=..." or "eyJeyJ..." x 100k).
_DIGITS = "0123456789"
_PEM_SEP = r"(?:[ \t\r\n]|\\[nr]){1,8}"


@dataclass(frozen=True)
class Rule:
    """One redaction rule.

    A match starts at one of the `anchors` characters, followed by `pattern`. When `pattern` holds
    a `(?P<v>...)` group only that value is replaced and the label before it is kept; otherwise
    the whole match (extended by `left`) is. `left` matches the text right before the anchor that
    belongs to the match; no `left` match, no redaction. `check(secret)` returns False for a match
    that is not a secret. An empty `placeholder` means the label found by `left` decides it.
    When `needs_words(text, start, end)` is true for a match, it counts only with a `words` match
    near it (see `Redactor._near`).
    """

    name: str
    placeholder: str
    anchors: str
    pattern: str
    left: str = ""
    check: Callable[[str], bool] | None = None
    words: re.Pattern[str] | None = None
    needs_words: Callable[[str, int, int], bool] | None = None


def luhn_valid(number: str) -> bool:
    """The Luhn checksum that every payment card number satisfies (digits only, 13..19 of them)."""
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_RRN_CENTURY = dict.fromkeys("1256", 1900) | dict.fromkeys("3478", 2000)


def rrn_valid(number: str) -> bool:
    """A resident registration number whose first six digits are a real date (YYMMDD).

    The seventh digit gives the century: 1, 2 (citizens) and 5, 6 (foreigners) for the 1900s;
    3, 4 and 7, 8 for the 2000s. No checksum: numbers issued since 2020 do not carry one.
    """
    digits = "".join(c for c in number if c.isdigit())
    try:
        datetime.date(_RRN_CENTURY[digits[6]] + int(digits[:2]), int(digits[2:4]), int(digits[4:6]))
    except (KeyError, ValueError):
        return False
    return True


def _intl_phone(value: str) -> bool:
    """E.164 allows at most 15 digits; fewer than 8 is a sum ("+1 2 3"), not a phone number."""
    return 8 <= sum(c.isdigit() for c in value) <= 15


# Issuer prefixes (IIN ranges) of the card networks, with the lengths each issues: (first digits
# from, to, lengths). Maestro: its 50, 56-58, 63 and 67 ranges (the rest of 6 is Discover, UnionPay
# and RuPay). No network issues cards starting with 1 (airlines), 7 (petroleum), 8 (telecom) or 9
# (national use) in this form, so ISBNs (978...) and most sums are no card at all.
_CARD_RANGES: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("4", "4", (13, 16, 19)),  # Visa
    ("51", "55", (16,)),  # Mastercard
    ("2221", "2720", (16,)),  # Mastercard 2-series
    ("2200", "2204", (16, 17, 18, 19)),  # Mir
    ("34", "34", (15,)),  # American Express
    ("37", "37", (15,)),
    ("300", "305", (14, 15, 16, 17, 18, 19)),  # Diners Club
    ("3095", "3095", (14, 15, 16, 17, 18, 19)),
    ("36", "36", (14, 15, 16, 17, 18, 19)),
    ("38", "39", (16, 17, 18, 19)),
    ("3528", "3589", (16, 17, 18, 19)),  # JCB
    ("6011", "6011", (16, 17, 18, 19)),  # Discover
    ("644", "649", (16, 17, 18, 19)),
    ("65", "65", (16, 17, 18, 19)),
    ("62", "62", (16, 17, 18, 19)),  # UnionPay
    ("60", "60", (16,)),  # RuPay
    ("50", "50", (13, 14, 15, 16, 17, 18, 19)),  # Maestro
    ("56", "58", (13, 14, 15, 16, 17, 18, 19)),
    ("63", "63", (13, 14, 15, 16, 17, 18, 19)),
    ("67", "67", (13, 14, 15, 16, 17, 18, 19)),
)


def card_valid(number: str) -> bool:
    """A card number: an issuer's prefix, a length that issuer uses, and a valid Luhn checksum."""
    digits = "".join(c for c in number if c.isdigit())
    return luhn_valid(digits) and any(
        lo <= digits[: len(lo)] <= hi and len(digits) in lengths for lo, hi, lengths in _CARD_RANGES
    )


# Words that make a number near them a card or a phone number. A word does not continue a longer
# one ("discard", "function_call") nor a placeholder (`<PII:card>`: a second pass changes nothing).
_W = r"(?<![A-Za-z0-9_:])"
_CARD_WORDS = re.compile(
    rf"(?i:{_W}(?:card|credit|debit|visa|master ?card|amex|american express|jcb|diners|unionpay"
    rf"|maestro|cvc|cvv|payment|cc(?![A-Za-z])))|카드|신용|결제"
)
# "call" only as calling someone ("call me at", "call 415...", "call back"): "call the API
# 100000000 times" is code.
_PHONE_WORDS = re.compile(
    rf"(?i:{_W}(?:phone|telephone|tel(?![A-Za-z])|mobile|cell|whatsapp|fax|sms"
    r"|call(?:s|ed|ing)?(?=[ \t]{1,4}(?:(?:me|us|him|her|them|at|on|back)(?![A-Za-z])|[0-9+(]))))"
    r"|전화|휴대폰|핸드폰|연락처|电话|電話|手机"
)
# A phone number written as one, needing no word: North American (`(650) 253-0000`,
# `415-555-0100`, `1-800-555-0199`; area and exchange codes start with 2..9).
_NANP = re.compile(
    r"(?:1[ .-])?(?:\([2-9][0-9]{2}\) ?[2-9][0-9]{2}-|[2-9][0-9]{2}-[2-9][0-9]{2}-"
    r"|[2-9][0-9]{2}\.[2-9][0-9]{2}\.)[0-9]{4}"
)
# A `+` number that is the operand of a sum: a number or a closing bracket before it (across
# spaces and newlines), or `=` after it.
_OPERAND_BEFORE = re.compile(r"[0-9)\]][ \t\r\n]{0,8}\Z")
_OPERAND_AFTER = re.compile(r"[ \t]{0,8}=")
_PHONE_END = r"(?![0-9A-Za-z]|[ .-][0-9]|[.-][A-Za-z])"
# After a number's first digit: not a date or a year range, even beside "call" ("I'll call you
# on 2026-11-27", "1999-2007").
_YEAR = r"(?:(?<=1)[89][0-9]{2}|(?<=2)[0-9]{3})"  # the rest of 1800..2999, after its first digit
_NOT_DATE = rf"(?!{_YEAR}(?:-[01][0-9]-[0-3][0-9]| [01][0-9] [0-3][0-9]|-[12][0-9]{{3}}(?![0-9])))"


def _bare(text: str, start: int, end: int) -> bool:
    """A digit run without separators (`4111111111111111`, not `4111 1111 1111 1111`)."""
    return text[start:end].isdigit()


def _not_phone_shaped(text: str, start: int, end: int) -> bool:
    return _NANP.fullmatch(text, start, end) is None


def _operand(text: str, start: int, end: int) -> bool:
    return bool(
        _OPERAND_BEFORE.search(text, max(0, start - 16), start) or _OPERAND_AFTER.match(text, end)
    )


_DIGIT, _LETTER, _UPPER, _LOWER = (re.compile(c) for c in ("[0-9]", "[^\\W\\d_]", "[A-Z]", "[a-z]"))


def _digit_and_letter(value: str) -> bool:
    return bool(_DIGIT.search(value) and _LETTER.search(value))


def _mixed_base64(value: str) -> bool:
    """A 40-character AWS secret is random base64: upper, lower and digits (a git SHA-1 is not)."""
    return bool(_UPPER.search(value) and _LOWER.search(value) and _DIGIT.search(value))


_TOKEN_CHAR = re.compile(r"[0-9._~+/-]")


def _token_chars(value: str) -> bool:
    return _TOKEN_CHAR.search(value) is not None


_CODE = re.compile(r"^[$%{]|[(\[]|^[A-Za-z_]+\.[A-Za-z_.]+$|^[*xX.]+$")


def _password(value: str) -> bool:
    """Not code (`input(...)`, `os.environ[...]`, `${PW}`, `cfg.password`) nor a mask (`****`)."""
    return not _CODE.search(value)


def _generic(value: str) -> bool:
    return _digit_and_letter(value) and _password(value)


# Labels before a `:`/`=` (the `labelled` rule) by the placeholder their value gets. A space in a
# phrase stands for an optional `_`, `-`, `.` or space (`api key`: API_KEY, api-key, apiKey, "API
# key"). A label may end a longer identifier (`DB_PASSWORD`, `github_token`), except the short
# ones in `_LABEL_WORDS`, which must be whole (`bypass: true` is no password).
_LABEL_PHRASES: dict[str, tuple[str, ...]] = {
    # detect-secrets aws_secret_access_key.py ("aws"/"secret"/"access"/"key" next to a 40-character
    # base64 string); gitleaks' earlier `AWS Secret Key` rule (`aws(.{0,20})?[0-9a-zA-Z/+]{40}`).
    "aws_secret": ("aws secret access key", "aws secret key", "aws secret", "secret access key"),
    # detect-secrets password.py / keyword.py; gitleaks `generic-api-key` (`passw(?:or)?d`).
    "password": ("passwords", "password", "passwd", "passcode", "passphrase", "pwd", "pw", "pass"),
    # gitleaks `generic-api-key` keywords (access, api, key, secret, token, credential) and
    # detect-secrets keyword.py (api_key, secret, token, ...).
    "generic_api_key": (
        "api key",
        "api keys",
        "api secret",
        "api token",
        "access token",
        "access key",
        "auth token",
        "refresh token",
        "client secret",
        "secret key",
        "private key",
        "credentials",
        "credential",
        "secrets",
        "secret",
        "tokens",
        "token",
    ),
}
_LABEL_WORDS = frozenset({"pwd", "pw", "pass"})
_LABEL_CHECKS: dict[str, Callable[[str], bool]] = {
    "aws_secret": _mixed_base64,
    "password": _password,
    "generic_api_key": _generic,
}


def _reversed_phrase(phrase: str) -> str:
    body = "[ _.-]?".join(re.escape(word[::-1]) for word in reversed(phrase.split(" ")))
    return body + ("(?![A-Za-z0-9])" if phrase in _LABEL_WORDS else "")


# `re` has no variable-width lookbehind, so the label is matched *backwards*: on the reversed text
# before the separator, from the separator on (one `match`, not a search over every start).
_LABEL_BEFORE = re.compile(
    r"[ \t]*['\"]?(?i:"
    + "|".join(
        f"(?P<{kind}>{'|'.join(_reversed_phrase(p) for p in phrases)})"
        for kind, phrases in _LABEL_PHRASES.items()
    )
    + r")(?!<)"  # not a placeholder: `<SECRET:...>`
)
# A cheap filter the regex applies before the label is looked at: the two letters before the
# separator (past a quote or a space) end some label. Most `name: value` text (`Note:`, `type=`,
# `size=`) stops here; without it, code-heavy text spent 4x longer in the label check.
_ENDS = "|".join(sorted({phrase[-2:] for phrases in _LABEL_PHRASES.values() for phrase in phrases}))
_LABEL_END = "|".join(f"(?<=(?i:{_ENDS}){gap}.)" for gap in ("", "['\"]", " ", "['\"] "))

# The part of a labelled value that is the secret: a key is a run of token characters; a password
# is everything up to whitespace, a quote or Hangul.
_LABEL_VALUES = {
    "aws_secret": re.compile(r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
    "password": re.compile(_VALUE),
    "generic_api_key": re.compile(r"[A-Za-z0-9_.+/=~-]{8,2048}"),
}

RULES: tuple[Rule, ...] = (
    # gitleaks `private-key`; detect-secrets private_key.py (BEGIN ... PRIVATE KEY). The whole PEM
    # block: header, base64 lines and `Proc-Type:`-style headers (newlines real, escaped `\n`, or
    # spaces), END line; without an END line, the header and the base64 lines of 16+ characters.
    Rule(
        "private_key",
        "SECRET:private_key",
        "-",
        r"----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:"
        rf"(?:{_PEM_SEP}(?:[A-Za-z0-9+/=]{{1,4096}}|[A-Za-z-]{{1,30}}:[^\n\\]{{0,200}})){{0,200}}"
        rf"{_PEM_SEP}-----END[ A-Z0-9_-]{{0,100}}PRIVATE KEY(?: BLOCK)?-----"
        rf"|(?:{_PEM_SEP}[A-Za-z0-9+/=]{{16,4096}}){{0,200}})",
    ),
    # gitleaks `aws-access-token`; detect-secrets aws.py (`AKIA[0-9A-Z]{16}`).
    Rule(
        "aws_key",
        "SECRET:aws_key",
        "A",
        rf"{_START}(?:3T[A-Z0-9]|KIA|SIA|BIA|CCA)[A-Z0-9]{{16}}{_END}",
    ),
    # detect-secrets aws_secret_access_key.py: a 40-character base64 string on a line that
    # mentions AWS, here within 40 characters after "aws" ("AWS 시크릿 키는 wJalr..."); labelled
    # forms (`aws_secret_access_key = ...`) go through `labelled`.
    Rule(
        "aws_secret",
        "SECRET:aws_secret",
        "wW",
        r"(?<=[Aa]w|AW)[sS][^\n]{0,40}?(?<![A-Za-z0-9/+=])(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        left=r"(?<![A-Za-z0-9_])[Aa]\Z",
        check=_mixed_base64,
    ),
    # gitleaks `gcp-api-key`.
    Rule("google_api_key", "SECRET:google_api_key", "A", rf"{_START}Iza[0-9A-Za-z_-]{{35}}{_END}"),
    # gitleaks `github-pat`, `github-oauth`, `github-app-token`, `github-refresh-token`,
    # `github-fine-grained-pat`; detect-secrets github_token.py.
    Rule(
        "github_token",
        "SECRET:github_token",
        "_",
        rf"(?<=gh[pousr]_)[0-9A-Za-z]{{36,255}}{_END}",
        left=r"(?<![A-Za-z0-9_])gh[pousr]\Z",
    ),
    Rule(
        "github_pat",
        "SECRET:github_token",
        "_",
        rf"(?<=github_)pat_[0-9A-Za-z_]{{82,255}}{_END}",
        left=r"(?<![A-Za-z0-9_])github\Z",
    ),
    # gitleaks `slack-bot-token`, `slack-user-token`, `slack-legacy-*-token`, `slack-app-token`,
    # `slack-config-*-token`; detect-secrets slack.py.
    Rule(
        "slack_token",
        "SECRET:slack_token",
        "-",
        r"(?:(?<=xox[abposr]-)(?:[0-9]{1,20}-){0,4}[0-9A-Za-z]{8,64}(?:-[0-9A-Za-z]{1,64}){0,4}"
        r"|(?:(?<=xoxe-)|(?<=xoxe\.xox[bp]-))[0-9]-[A-Za-z0-9]{100,300}"
        r"|(?<=xapp-)[0-9]-[A-Z0-9]{1,40}-[0-9]{1,20}-[a-z0-9]{1,100})",
        left=r"(?<![A-Za-z0-9_])(?:xox[abposre]|xoxe\.xox[bp]|xapp)\Z",
    ),
    # gitleaks `slack-webhook-url`; detect-secrets slack.py (webhooks). The scheme stays.
    Rule(
        "slack_webhook",
        "SECRET:slack_token",
        ":",
        r"(?:(?<=https:)|(?<=http:))//(?P<v>hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_+/]{20,200})",
    ),
    # Credentials in a URL (`scheme://user:password@host`), after gitleaks `curl-auth-user`.
    Rule("url_password", "SECRET:password", ":", r"//[^\s:/@<>]{1,256}:(?P<v>[^\s/@<>]{1,256})@"),
    # gitleaks `anthropic-api-key`, `anthropic-admin-api-key` (no placeholder type of their own).
    Rule(
        "anthropic_key",
        "SECRET:generic_api_key",
        "-",
        r"(?<=sk-)ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_-]{20,300}",
        left=r"(?<![A-Za-z0-9_])sk\Z",
    ),
    # gitleaks `openai-api-key` (sk-proj/svcacct/admin and legacy `T3BlbkFJ` keys); detect-secrets
    # openai.py; and a bare `sk-` + 32 or more alphanumerics with a digit (legacy 48-char keys).
    Rule(
        "openai_key",
        "SECRET:openai_key",
        "-",
        r"(?<=sk-)(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,300}"
        rf"|[A-Za-z0-9_-]{{0,100}}[A-Za-z0-9]{{20}}T3BlbkFJ[A-Za-z0-9]{{20}}|[A-Za-z0-9]{{32,200}}){_END}",
        left=r"(?<![A-Za-z0-9_])sk\Z",
        check=_digit_and_letter,
    ),
    # gitleaks `stripe-access-token`; detect-secrets stripe.py (`(?:r|s)k_live_[0-9a-zA-Z]{24}`).
    Rule(
        "stripe_key",
        "SECRET:stripe_key",
        "_",
        rf"(?<=[sr]k_)(?:test|live|prod)_[0-9A-Za-z]{{10,99}}{_END}",
        left=r"(?<![A-Za-z0-9_])[sr]k\Z",
    ),
    # gitleaks `jwt` (header and payload both start with `ey`: base64 of `{"`; a header's first key
    # makes it `eyJ`); detect-secrets jwt.py.
    Rule(
        "jwt",
        "SECRET:jwt",
        "J",
        r"(?<=eyJ)[A-Za-z0-9_-]{15,2000}\.ey[A-Za-z0-9_/\\-]{17,8000}\.(?:[A-Za-z0-9_/\\-]{10,2000}={0,2})?",
        left=r"(?<![A-Za-z0-9_])ey\Z",
    ),
    # gitleaks `curl-auth-header` (`Bearer` + RFC 6750 token characters); the label stays.
    Rule(
        "bearer_token",
        "SECRET:bearer_token",
        "Bb",
        rf"{_LABEL_START}(?:earer|EARER)[ \t]{{1,8}}(?P<v>[A-Za-z0-9._~+/-]{{16,4096}}={{0,2}})",
        check=_token_chars,
    ),
    # "my password is hunter2" (detect-secrets keyword.py's password, in a sentence).
    Rule(
        "password_phrase",
        "SECRET:password",
        "wW",
        rf"(?:(?i:ord|d)s?)?[ \t]{{1,8}}(?i:is|was)[ \t]{{1,8}}['\"`]?(?P<v>{_VALUE})",
        left=r"(?<![A-Za-z0-9_<])(?i:pass|p)\Z",
        check=_password,
    ),
    # Korean password labels (비밀번호, 비번, 패스워드) with a separator, a particle or a space;
    # a Hangul value ("비번 바꿨어") is not a password.
    Rule(
        "password_ko",
        "SECRET:password",
        "비패",
        rf"(?:밀번호|번|스워드){_KO_SEP}['\"`]?(?P<v>{_VALUE})",
        check=_password,
    ),
    # Korean key labels 토큰, 시크릿 (gitleaks `generic-api-key` keywords: token, secret).
    Rule(
        "generic_api_key_ko",
        "SECRET:generic_api_key",
        "토시",
        rf"(?:큰|크릿)(?:{_SEP}|[ \t]{{0,8}}[은는이가][ \t]{{1,8}})['\"`]?(?P<v>[A-Za-z0-9_.+/=~-]{{8,512}})",
        check=_generic,
    ),
    # "API 키", "시크릿 키" (키 alone is also "height": 키는 180cm).
    Rule(
        "api_key_ko",
        "SECRET:generic_api_key",
        "키",
        rf"(?:{_SEP}|[ \t]{{0,8}}[은는이가][ \t]{{1,8}})['\"`]?(?P<v>[A-Za-z0-9_.+/=~-]{{8,512}})",
        left=r"(?:(?i:api)|시크릿)[ \t]?\Z",
        check=_generic,
    ),
    # Any `label: value` / `label = value` / `"label": "value"` whose label names a password, an
    # AWS secret or an API key (see `_LABEL_PHRASES`); anchored on the separator.
    Rule(
        "labelled",
        "",
        ":=：",
        rf"(?:{_LABEL_END})(?:(?<=:)=|(?<==)>)?[ \t]{{0,8}}['\"`]?(?!//)(?P<v>[^\s'\"`<>]{{4,2048}})",
    ),
    # PII: an e-mail address: anchored on `@`, the local part found by `left`.
    Rule(
        "email",
        "PII:email",
        "@",
        r"(?<=[A-Za-z0-9._%+-]@)[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9][A-Za-z0-9-]{0,62}){0,8}"
        r"\.[A-Za-z]{2,24}(?![A-Za-z0-9-])",
        left=r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}\Z",
    ),
    # PII: Korean resident registration number, YYMMDD-GNNNNNN (G = 1..4 citizens, 5..8
    # foreigners); the date is checked (`rrn_valid`), so "991332-1234567" stays.
    Rule(
        "rrn",
        "PII:rrn",
        _DIGITS,
        rf"{_NUM_START}[0-9](?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[ \t]?-[ \t]?[1-8][0-9]{{6}}(?![0-9])",
        check=rrn_valid,
    ),
    # PII: Korean phone numbers: mobile 01X, Seoul 02, regional 0[3-6][1-5], 070, optionally in
    # parentheses ("(02) 123-4567"); or the same after +82 without the leading 0. Separated in both
    # places or in neither ("02110-1301" is a US ZIP code).
    Rule(
        "phone_kr",
        "PII:phone_kr",
        "0(+",
        rf"{_NUM_START}(?:(?<=\+)82[ .-]?(?:\(0\))?|(?<=\()0|(?<=0))(?:1[016789]|2|[3-6][1-5]|70)"
        r"(?:[0-9]{7,8}|(?:[ .-]|\)[ \t]?)[0-9]{3,4}[ .-][0-9]{4})(?![0-9])",
    ),
    # PII: international numbers with a + prefix (E.164: 8..15 digits in all, `_intl_phone`); as
    # the operand of a sum ("472547338 +960397912423686 ="), only beside a phone word.
    Rule(
        "phone_intl",
        "PII:phone_intl",
        "+",
        rf"{_NUM_START}[1-9][0-9]{{0,2}}(?:[ .-]?\([0-9]{{1,4}}\))?(?:[ .-]?[0-9]{{1,4}}){{2,5}}(?![0-9])",
        check=_intl_phone,
        words=_PHONE_WORDS,
        needs_words=_operand,
    ),
    # PII: payment card numbers (`card_valid`: issuer prefix, length, Luhn), grouped as printed on
    # cards, one separator throughout: 4-4-4-4 (16 digits), 4-6-5 (Amex, 15) or 4-6-4 (Diners, 14);
    # or unseparated (13..19 digits), then only beside a card or payment word ("card no.", "카드").
    # Anchors 2..6: the first digit of every issuer's prefix. One that goes on "-abc" is a UUID.
    Rule(
        "card",
        "PII:card",
        "23456",
        rf"{_NUM_START}(?=[0-9 -]{{12}})(?<![0-9] .)(?:[0-9]{{12,18}}"
        r"|[0-9]{3}(?: [0-9]{4}){3}(?! [0-9]{4}(?![0-9]))|[0-9]{3}(?:-[0-9]{4}){3}"
        r"|[0-9]{3} [0-9]{6} [0-9]{4,5}|[0-9]{3}-[0-9]{6}-[0-9]{4,5})"
        r"(?![0-9A-Za-z]|[.-][0-9A-Za-z])",
        check=card_valid,
        words=_CARD_WORDS,
        needs_words=_bare,
    ),
    # PII: phone numbers without a + (a + number or a Korean one is matched above): written as a
    # North American number (`_NANP`), or any 8..15 digits (single spaces or dashes between) beside
    # a phone word ("call me at 4155550100", "WhatsApp 44 7700 900123"). Not inside a longer
    # number, a version or an id.
    Rule(
        "phone_plain",
        "PII:phone_intl",
        _DIGITS,
        rf"{_NUM_START}(?=[0-9 ().-]{{7}})(?<![0-9][ -].)"
        r"(?:(?<=1)[ .-](?:\([2-9][0-9]{2}\) ?[0-9]{3}-|[2-9][0-9]{2}-[0-9]{3}-"
        r"|[2-9][0-9]{2}\.[0-9]{3}\.)[0-9]{4}"
        r"|(?<=[2-9])[0-9]{2}(?:-[0-9]{3}-|\.[0-9]{3}\.)[0-9]{4}"
        rf"|{_NOT_DATE}(?:[ -]?[0-9]){{7,14}}){_PHONE_END}",
        check=_intl_phone,
        words=_PHONE_WORDS,
        needs_words=_not_phone_shaped,
    ),
    Rule(
        "phone_paren",
        "PII:phone_intl",
        "(",
        rf"{_START}[2-9][0-9]{{2}}\) ?[0-9]{{3}}-[0-9]{{4}}{_PHONE_END}",
        check=_intl_phone,
        words=_PHONE_WORDS,
        needs_words=_not_phone_shaped,
    ),
)


def _combined(
    rules: tuple[Rule, ...],
) -> tuple[re.Pattern[str], dict[str, Rule], dict[str, list[tuple[str, str]]]]:
    """One regex: an alternation over anchor characters, each holding its rules' alternatives.

    Each alternative ends in an empty named group that identifies the rule (`match.lastgroup`):
    leading with it would cost `re` a jump per alternative tried. Digits come first: in chat they
    are the most frequent anchors. Also returns, per anchor, its (group, `anchor(?:body)`) in
    order: each alternative on its own, to try the next rules where one fails its check.
    """
    by_anchor: dict[str, list[str]] = {}
    groups: dict[str, Rule] = {}
    alone: dict[str, list[tuple[str, str]]] = {}
    for rule in rules:
        for i, anchor in enumerate(rule.anchors):
            group = f"{rule.name}__{i}"
            groups[group] = rule
            body = rule.pattern.replace("(?P<v>", f"(?P<{group}__v>") + f"(?P<{group}>)"
            by_anchor.setdefault(anchor, []).append(body)
            alone.setdefault(anchor, []).append((group, f"{re.escape(anchor)}(?:{body})"))
    order = sorted(by_anchor, key=lambda a: (not a.isdigit(), a.isalpha(), not a.isascii(), a))
    regex = re.compile("|".join(_anchor_alternative(a, by_anchor[a]) for a in order))
    return regex, groups, alone


def _anchor_alternative(anchor: str, bodies: list[str]) -> str:
    """`anchor(?:body|body...)`, with a boundary check that all bodies start with done once."""
    for boundary in (_NUM_START, _START, _LABEL_START):
        if len(bodies) > 1 and all(body.startswith(boundary) for body in bodies):
            bodies = [body[len(boundary) :] for body in bodies]
            return f"{re.escape(anchor)}{boundary}(?:{'|'.join(bodies)})"
    return f"{re.escape(anchor)}(?:{'|'.join(bodies)})"


_NEAR_BEFORE = 48  # characters before a number where its card or phone word may be
_NEAR_AFTER = 24  # ... and after it ("4111111111111111 is my Visa")
_MESSAGE_KEYS = frozenset({"content", "name", "arguments"})  # the other keys are an object's


class Redactor:
    """Replaces secrets and PII in text with typed placeholders, in one regex pass."""

    def __init__(self) -> None:
        self._regex, self._groups, alone = _combined(RULES)
        self._left = {rule.name: re.compile(rule.left) for rule in RULES if rule.left}
        # Per group, the alternatives after it on the same anchor, each as its own regex.
        self._then: dict[str, list[re.Pattern[str]]] = {
            group: [re.compile(pattern) for _, pattern in same[k + 1 :]]
            for same in alone.values()
            for k, (group, _) in enumerate(same)
        }

    def redact(self, text: str) -> tuple[str, Counter[str]]:
        """`text` with every secret and PII replaced, and the count per placeholder type."""
        counts: Counter[str] = Counter()
        return self._redact(text, counts), counts

    def redact_texts(self, texts: list[str]) -> tuple[list[str], Counter[str]]:
        """Several strings of one record, in order: a card or phone word at the end of one counts
        for a number at the start of the next ("내 카드 번호 기억해?" / "네, 4012888888881881")."""
        counts: Counter[str] = Counter()
        out: list[str] = []
        for text in texts:
            out.append(self._redact(text, counts, out[-1] if out else ""))
        return out, counts

    def redact_record(self, record: dict) -> Counter[str]:
        """Redact every text field of `record` in place; the counts per placeholder type.

        Fields are redacted in order, each seeing the end of the one before (`redact_texts`); a
        string inside a tool call's arguments object also sees its key (`{"card": "4111..."}`).
        """
        counts: Counter[str] = Counter()
        before = ""
        for container, key in all_text_fields(record):
            if key.__class__ is str and key not in _MESSAGE_KEYS:
                before = f"{before[-_NEAR_BEFORE:]}\n{key}: "
            before = container[key] = self._redact(container[key], counts, before)
        return counts

    def _redact(self, text: str, counts: Counter[str], before: str = "") -> str:
        """`text` redacted; adds what it replaced to `counts`. `before`: the text that precedes
        `text` (the end of the record's previous string), where a number's word may be."""
        match = self._regex.search(text)
        if match is None:
            return text
        parts: list[str] = [before[-_NEAR_BEFORE:]] if before else []
        head = len(parts)
        done = 0
        while match is not None:
            found = self._resolve(text, match, done, parts)
            if found is None:
                found = self._next_rule(text, match, done, parts)
            if found is None:
                match = self._regex.search(text, match.start() + 1)
                continue
            start, end, placeholder = found
            parts.append(text[done:start])
            parts.append(f"<{placeholder}>")
            counts[placeholder] += 1
            done = end
            match = self._regex.search(text, max(end, match.end()))
        parts.append(text[done:])
        return "".join(parts[head:])

    def _next_rule(
        self, text: str, failed: re.Match[str], done: int, parts: list[str]
    ) -> tuple[int, int, str] | None:
        """The first rule after the failed one on its anchor that matches there and holds."""
        for regex in self._then[failed.lastgroup or ""]:
            match = regex.match(text, failed.start())
            if match is not None:
                found = self._resolve(text, match, done, parts)
                if found is not None:
                    return found
        return None

    def _resolve(
        self, text: str, match: re.Match[str], done: int, parts: list[str]
    ) -> tuple[int, int, str] | None:
        """The span to replace and its placeholder, or None when the match is no secret.

        `done`: where the text is already redacted; nothing before it is looked at again.
        `parts`: the output so far (what comes before `done`), for `_near`.
        """
        group = match.lastgroup or ""
        rule = self._groups[group]
        start, end = match.span()
        lo = max(done, start - _WINDOW)
        if rule.left:
            left = self._left[rule.name].search(text, lo, start)
            if left is None:
                return None
            start = left.start()
        if "(?P<v>" in rule.pattern:
            start, end = match.span(f"{group}__v")
        placeholder, check = rule.placeholder, rule.check
        if not placeholder:  # `labelled`: the label before the separator decides
            label = _LABEL_BEFORE.match(text[lo : match.start()][::-1])
            if label is None:
                return None
            kind = label.lastgroup or ""
            value = _LABEL_VALUES[kind].match(text, start, end)
            if value is None:
                return None
            end = value.end()
            placeholder, check = f"SECRET:{kind}", _LABEL_CHECKS[kind]
        secret = text[start:end]
        if check is not None and not check(secret):
            return None
        if rule.needs_words is not None and rule.needs_words(text, start, end):
            if not self._near(rule.words, text, start, end, done, parts):
                return None
        if placeholder == "SECRET:generic_api_key" and rule.name != "anthropic_key":
            # A labelled value in a known format is typed by it: "token: ghp_..." is a GitHub token.
            placeholder = self._specific(secret) or placeholder
        if (
            placeholder == "SECRET:password"
            and secret.isalpha()
            and not _WORD_PASSWORD_END.match(text, end)
        ):
            return None
        return start, end, placeholder

    @staticmethod
    def _near(
        words: re.Pattern[str] | None, text: str, start: int, end: int, done: int, parts: list[str]
    ) -> bool:
        """A `words` match within `_NEAR_BEFORE` characters before `start` or `_NEAR_AFTER` after
        `end`. Before it, the text is read as redacted so far (the output, then `text[done:start]`),
        so that redacting the output again finds the same words."""
        if words is None:
            return False
        before = text[max(done, start - _NEAR_BEFORE) : start]
        i = len(parts)
        while len(before) < _NEAR_BEFORE and i:
            i -= 1
            before = parts[i] + before
        return bool(
            words.search(before[-_NEAR_BEFORE:]) or words.search(text[end : end + _NEAR_AFTER])
        )

    def _specific(self, value: str) -> str | None:
        """The placeholder of a rule that finds exactly `value` (a known key format), if any."""
        redacted, counts = self.redact(value)
        if len(counts) == 1 and redacted == f"<{next(iter(counts))}>":
            return next(iter(counts))
        return None
