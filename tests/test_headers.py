"""digest.mail.headers: header text made safe, and a header block's last check."""

from __future__ import annotations

import base64
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.mail.headers import (
    block_problem,
    decode_words,
    decoded_problem,
    header_text,
)
from digest.mail.reader_addresses import normalize_email
from tests.test_config import MINIMAL, problems, write_config


def b_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?b?{base64.b64encode(text.encode(charset)).decode('ascii')}?="


def q_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?q?{''.join(f'={byte:02X}' for byte in text.encode(charset))}?="


def one_safe_line(value: str, limit: int) -> bool:
    return (
        len(value) <= limit
        and "=?" not in value
        and not any(unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs") for char in value)
        and value == value.strip()
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Talks resume in Muscat", "Talks resume in Muscat"),
        ("  Talks   resume\t", "Talks resume"),
        ("Talks " + b_word("\r\nReply-To: x@evil.example"), "Talks Reply-To: x@evil.example"),
        (q_word("\r\n\r\nX-Injected: 1"), "X-Injected: 1"),
        ("=?UTF-8?Q?caf=C3=A9_cr=C3=A8me?=", "café crème"),
        (b_word(q_word("\r\nX: 1")), "X: 1"),  # nested: decoded until none is left
        (b_word("a") + " \t " + b_word("b"), "ab"),  # space between adjacent words dropped
        (b_word("a") + " x " + b_word("b"), "a x b"),  # but not other text
        ("Talks" + q_word("\r\n") + "X:" + q_word(" 1"), "Talks X: 1"),  # inside a word
        ("=?utf-8*en?q?a=0Db?=", "a b"),  # RFC 2231 language
        ("=?utf-7?q?+AA0ACg-X?=", "X"),
        (b_word("caf\xe9\r\n", "iso-8859-1"), "café"),
        ("=?x-unknown?q?=0D=0AX?=", "X"),  # unknown charset: its ASCII, checked like the rest
        ("=?rot13?q?=0D=0AX?=", "X"),  # a codec that is no text encoding
        ("=?utf-8?b?not base64?=", "= ?utf-8?b?not base64?="),  # not a word: left, broken up
        ("=?utf-8?b?DQpYLUluamVjdGVk", "= ?utf-8?b?DQpYLUluamVjdGVk"),  # cut short
        ("a=?b", "a= ?b"),
        ("Talks\u2028X\u2029Y\x85Z\rA\nB\x00C\x0bD\x0cE", "Talks X Y Z A B C D E"),
        ("bad \ud800 surrogate", "bad \ufffd surrogate"),
        ("زنان\u200cها", "زنان\u200cها"),  # the zero-width non-joiner Persian needs stays
        ("", ""),
        ("\r\n", ""),
    ],
)
def test_header_text(text: str, expected: str) -> None:
    assert header_text(text, 250) == expected


def test_header_text_of_none_is_empty() -> None:
    assert header_text(None, 10) == ""


def test_a_long_value_is_cut_at_a_word_and_marked() -> None:
    assert header_text("word " * 100, 30) == "word word word word word word…"  # 30
    assert header_text("x" * 5000, 100) == "x" * 99 + "…"
    assert header_text(b_word("é" * 300), 100) == "é" * 99 + "…"
    assert header_text(q_word("€" * 200), 150) == "€" * 149 + "…"
    # Beyond what any value of the limit needs, the input is cut before it is read.
    huge = header_text(b_word("é" * 300_000 + "\r\nX: 1"), 100)
    assert one_safe_line(huge, 100)


def test_a_cut_keeps_the_most_whole_words_that_fit_with_the_mark_at_every_limit() -> None:
    """A subject or a name just over its room: the whole words that fit with the mark, when
    they fill more than half of it; a value of exactly the limit is kept whole."""
    title = "Talks resume in Muscat as envoys meet for a third day"
    words = title.split()
    assert header_text(title, len(title)) == title
    shy = "Talks re\u00adsume in Muscat"  # a soft hyphen: not printable, kept
    assert header_text(shy, len(shy)) == shy
    assert header_text("I " + "x" * 40, 3) == "I…"  # no space left before the mark
    for limit in range(len(words[0]) + 2, len(title)):
        shown = header_text(title, limit)
        fitting = max(
            (" ".join(words[:n]) for n in range(1, len(words))),
            key=lambda kept: len(kept) if len(kept) < limit else -1,
        )
        assert len(shown) <= limit and shown.endswith("…")
        if len(fitting) > limit // 2:
            assert shown == fitting + "…", limit
        else:
            assert shown == title[: limit - 1].rstrip() + "…", limit


def test_decoding_is_bounded_in_rounds() -> None:
    deep = "\r\nX: 1"
    for _ in range(10):
        deep = b_word(deep)
    value = header_text(deep, 250)  # four rounds, and what is left is broken up
    assert one_safe_line(value, 250)


def test_decode_words_leaves_what_does_not_decode() -> None:
    assert decode_words("=?utf-8?b?@@@@?= x") in ("=?utf-8?b?@@@@?= x", " x")
    assert decode_words("plain") == "plain"


HOSTILE = st.lists(
    st.one_of(
        st.characters(),
        st.sampled_from(["=?", "?=", "?q?", "?b?", "\r\n", "\u2028", "\x85", "_", "=0D", "=0A"]),
    ),
    max_size=200,
).map("".join)


@given(HOSTILE, st.integers(min_value=2, max_value=300))
def test_any_text_becomes_one_safe_line(text: str, limit: int) -> None:
    value = header_text(text, limit)
    assert one_safe_line(value, limit)
    assert decode_words(value) == value  # nothing left that a mail program would decode
    assert header_text(value, limit) == value  # and cleaning it again changes nothing


@given(st.text(max_size=60), st.sampled_from(["b", "q"]), st.sampled_from(["utf-8", "utf-7"]))
def test_encoded_words_of_any_text_decode_to_that_text_cleaned(
    text: str, kind: str, charset: str
) -> None:
    word = (b_word if kind == "b" else q_word)(text, charset)
    assert header_text(word, 1000) == header_text(text.replace("=?", "= ?"), 1000)


# ---------------------------------------------------------------------------------------------
# The last check of a header block

NAMES = ("To", "Date")
GOOD = b"To: Sam <sam@example.org>\r\nDate: Wed, 25 Nov 2026 07:00:00 +0400\r\n"


def test_a_good_block_has_no_problem() -> None:
    assert block_problem(GOOD, NAMES) is None
    folded = b"To: Sam\r\n <sam@example.org>\r\nDate: x\r\n"
    assert block_problem(folded, NAMES) is None
    assert block_problem(b"to: a@b.org\r\nDATE: x\r\n", NAMES) is None  # names: any case


@pytest.mark.parametrize(
    ("head", "problem"),
    [
        (GOOD[:-2], "does not end with CRLF"),
        (GOOD + b"X-Injected: 1\r\n", "a header the mailer does not write: X-Injected"),
        (b"To: a@b.org\r\n", "a header is missing: Date"),
        (GOOD + b"Date: x\r\n", "a header appears twice: Date"),
        (b"Date: x\r\nTo: a@b.org\r\n", "out of order"),
        (b"To: a@b.org\nX: 1\r\nDate: x\r\n", "bare CR or LF"),
        (b"To: a@b.org\rX: 1\r\nDate: x\r\n", "bare CR or LF"),
        (b"To: a@b.org\r\n\r\nDate: x\r\n", "neither a field nor a continuation"),
        (b" To: a@b.org\r\nDate: x\r\n", "starts with a continuation line"),
        (b"To: " + b"x" * 995 + b"\r\nDate: x\r\n", "999 octets long, over 998"),
        ("To: Zoë <z@example.org>\r\nDate: x\r\n".encode(), "not ASCII"),
        (b"To a@b.org\r\nDate: x\r\n", "neither a field nor a continuation"),
        (b"X Y: 1\r\nTo: a\r\nDate: x\r\n", "neither a field nor a continuation"),
    ],
)
def test_a_bad_block_is_named(head: bytes, problem: str) -> None:
    found = block_problem(head, NAMES)
    assert found is not None and problem in found


def test_decoded_problem_reads_encoded_words_as_a_mail_program_does() -> None:
    assert decoded_problem(b"Subject: =?utf-8?q?caf=C3=A9?=\r\n") is None
    found = decoded_problem(b"Subject: =?utf-8?q?a=0D=0AX:_1?=\r\n")
    assert found is not None and "the Subject header holds a line break" in found
    found = decoded_problem(b"Subject: a=?utf-8?q?=E2=80=A8?=b\r\n")
    assert found is not None and "Subject" in found


# ---------------------------------------------------------------------------------------------
# What the config and the subscriber files may put into a header


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (
            'sender_address = "desk@example.org"',
            'sender_address = "=?utf-8?q?=0D=0A?=@example.org"',
            "service.sender_address",
        ),
        (
            'sender_address = "desk@example.org"',
            'sender_address = "désk@example.org"',
            "service.sender_address",
        ),
        (
            'sender_address = "desk@example.org"',
            'sender_address = "desk@' + "a" * 250 + '.org"',
            "service.sender_address",
        ),
        (
            "postal_address",
            'reply_to = "=?utf-8?q?x?=@example.org"\npostal_address',
            "service.reply_to",
        ),
        (
            "postal_address",
            'unsubscribe_address = "=?a?q?b?=@example.org"\npostal_address',
            "service.unsubscribe_address",
        ),
        (
            '"https://news.example.org"',
            '"https://news.example.org/=?utf-8?q?=0D=0A?="',
            "service.base_url",
        ),
        ('"https://news.example.org"', '"https://news.example.org/a b"', "service.base_url"),
        ('"https://news.example.org"', '"https://news.example.org/é"', "service.base_url"),
        (
            "postal_address",
            'feedback_id = "{list}=?utf-8?q?=0D=0A?="\npostal_address',
            "service.feedback_id",
        ),
        ('sender_name = "Desk"', 'sender_name = "Desk\\u2028Bcc: x"', "service.sender_name"),
        ('sender_name = "Desk"', 'sender_name = "Desk\\u0085Bcc: x"', "service.sender_name"),
        ('name = "Daily"', 'name = "Daily\\u000bBcc: x"', "lists[daily].name"),
    ],
)
def test_the_config_refuses_what_would_break_a_header(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    assert old in MINIMAL
    path = write_config(tmp_path, MINIMAL.replace(old, new, 1))
    found = problems(path)
    assert [name for name, _ in found] == [key], found
    assert "header" in found[0][1]


def test_a_subscriber_address_holding_an_encoded_word_is_refused() -> None:
    with pytest.raises(ValueError, match="not an email address we can send to"):
        normalize_email("=?utf-8?q?=0D=0AX?=@example.org")
    assert normalize_email("a=b?c@example.org") == "a=b?c@example.org"  # "=" and "?" alone pass


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        # A sender_name, a list's name in a subject: an override left open turned around what a
        # mail program shows after it, the From's address or the rest of the subject.
        ("The Desk \u202eksed", 100, "The Desk ksed"),
        ("Daily \u2067Brief: 5 December", 100, "Daily Brief: 5 December"),
        # Closed as Arabic and Hebrew publishers write them: kept.
        ("\u202bالمكتب\u202c Desk", 100, "\u202bالمكتب\u202c Desk"),
        # The cut took the closer: the opener goes with it.
        ("\u202bword " + "x " * 40 + "\u202c", 20, "word x x x x x x x…"),
    ],
)
def test_a_direction_control_left_open_in_a_header_value_is_left_out(
    text: str, limit: int, expected: str
) -> None:
    assert header_text(text, limit) == expected
