"""Tests for digest.shown: outside text as errors and logs show it, its passwords masked."""

from __future__ import annotations

import pytest

from digest.shown import brief, database_shown, passwords_masked, shown_address


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://desk:s3cret@db.example.org/digest",
            "postgresql+psycopg://desk:***@db.example.org/digest",
        ),
        # A "/" in the password: a web address's reading would take the rest for the path.
        ("postgresql+psycopg://desk:pa/ss@db/digest", "postgresql+psycopg://desk:***@db/digest"),
        # A port that is no number: SQLAlchemy cannot read it, and the password is masked all
        # the same.
        (
            "postgresql+psycopg://desk:s3cret@db:five/digest",
            "postgresql+psycopg://desk:***@db:five/digest",
        ),
        # libpq takes a password from the query too.
        (
            "postgresql+psycopg://desk@db/digest?password=s3cret&sslmode=require",
            "postgresql+psycopg://desk@db/digest?password=***&sslmode=require",
        ),
    ],
)
def test_a_database_url_is_shown_with_its_password_masked_wherever_the_driver_reads_one(
    url: str, shown: str
) -> None:
    assert database_shown(url) == shown


@pytest.mark.parametrize(
    "url",
    ["sqlite:///var/digest.db", "postgresql+psycopg://desk@db/digest?sslmode=require"],
)
def test_a_database_url_without_a_password_is_shown_as_the_operator_wrote_it(url: str) -> None:
    assert database_shown(url) == url


def test_a_library_error_is_put_on_one_line_and_cut_to_200_characters() -> None:
    assert brief(" line one\n\tline  two ") == "line one line two"
    assert brief("x" * 200) == "x" * 200
    assert brief("x" * 201) == "x" * 199 + "…"


def test_an_address_is_named_whole_up_to_300_characters_then_by_its_start_and_length() -> None:
    start = "https://feeds.example.org/"
    whole = start + "p" * (300 - len(start))
    assert shown_address(whole) == whole
    longer = whole + "q"
    assert shown_address(longer) == f"{longer[:299]}… (301 characters)"
    # Masked before the cut, which could split the password.
    redirect = f"https://desk:{'s' * 400}@feeds.example.org/"
    assert shown_address(redirect) == "https://desk:***@feeds.example.org/"


def test_every_address_in_a_text_has_its_password_masked() -> None:
    text = "redirected from https://desk:s3cret@a.example.org/x to ftp://v:q@b.example.org/"
    assert passwords_masked(text) == (
        "redirected from https://desk:***@a.example.org/x to ftp://v:***@b.example.org/"
    )
    assert passwords_masked("mail desk@example.org") == "mail desk@example.org"
