"""A subject that spends a phone's 35-40 characters on the list's name is warned about."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import load_settings
from digest.subject_check import PHONE_SUBJECT_CHARS, subject_warnings
from tests.test_config import MINIMAL, write_config
from tests.test_operator_messages import digest
from tests.test_operator_messages import write_config as write_cli_config

LONG_NAME = "The Middle East in your inbox"
HEADLINE_LAST = "{{ list_name }}: {{ lead_title }}"
HEADLINE_FIRST = "{% if lead_title %}{{ lead_title }} | {% endif %}{{ list_name }}"


def config(tmp_path: Path, name: str, subject: str) -> Path:
    text = MINIMAL.replace('name = "Daily"', f'name = "{name}"')
    return write_config(tmp_path, text + f"subject = '{subject}'\n")


def test_a_long_name_before_the_headline_is_warned_about_with_its_key(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, LONG_NAME, HEADLINE_LAST), {})
    [warning] = subject_warnings(settings)
    assert str(tmp_path / "digest.toml") in warning and "lists[daily].subject" in warning
    # What the phone sees instead of news, and what to write instead.
    assert f"spends {len(LONG_NAME) + 2} on 'The Middle East in your inbox:'" in warning
    assert "put {{ lead_title }} first" in warning


@pytest.mark.parametrize(
    "subject",
    [
        HEADLINE_FIRST,  # the example's
        "{{ list_name }}: {{ date }}",  # no headline at all: the default, said on purpose
        "Daily: {{ lead_title }}",  # a short name before it
        "{{ lead_title|upper }} | {{ list_name }}",  # a filter on the headline
    ],
)
def test_a_headline_a_phone_shows_is_not_warned_about(tmp_path: Path, subject: str) -> None:
    assert subject_warnings(load_settings(config(tmp_path, LONG_NAME, subject), {})) == []


def test_the_fixed_text_is_measured_as_an_inbox_shows_it(tmp_path: Path) -> None:
    # The date counts (its longest month name is the measure's), and runs of spaces are one.
    subject = "Brief   of {{ date }} — {{ lead_title }}"
    [warning] = subject_warnings(load_settings(config(tmp_path, "Daily", subject), {}))
    assert "'Brief of 25 November 2026 —'" in warning
    short = "{{ date }} {{ lead_title }}"
    assert len("25 November 2026 ") <= PHONE_SUBJECT_CHARS
    assert subject_warnings(load_settings(config(tmp_path, "Daily", short), {})) == []


def test_a_filtered_headline_is_still_found(tmp_path: Path) -> None:
    subject = "{{ list_name }}: {{ lead_title|title|truncate(40) }}"
    [warning] = subject_warnings(load_settings(config(tmp_path, LONG_NAME, subject), {}))
    assert "'The Middle East in your inbox:'" in warning


def test_a_headline_behind_a_condition_that_never_shows_it_is_not_measured(
    tmp_path: Path,
) -> None:
    subject = "{% if false %}{{ lead_title }}{% endif %}" + LONG_NAME
    assert subject_warnings(load_settings(config(tmp_path, LONG_NAME, subject), {})) == []


def test_config_check_prints_the_warning_and_passes(tmp_path: Path) -> None:
    path = write_cli_config(tmp_path, extra=f"subject = '{HEADLINE_LAST}'\n")
    path.write_text(path.read_text().replace('name = "Daily"', f'name = "{LONG_NAME}"'))
    done = digest(path, "config", "check")
    assert done.exit_code == 0, done.output
    assert "warning:" in done.stderr and "lists[daily].subject" in done.stderr


def test_the_example_config_puts_its_news_first() -> None:
    example = Path(__file__).resolve().parents[1] / "config" / "example.toml"
    assert subject_warnings(load_settings(example, {})) == []
