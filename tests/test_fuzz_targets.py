"""The fuzz targets of inbound mail, pictures and the operator's files (fuzz/): their seed
corpora and every crash they found, replayed, and their checks firing on what they catch.

``scripts/fuzz SECONDS TARGET`` runs each under atheris (``scripts/test`` does, for a bounded
time); here each seed and each reproducer kept in fuzz/crashes-TARGET/ goes through the same
target as part of the normal suite, so a regression shows as a failing test naming the input.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from digest.images.checking import PreparedPicture
from digest.inbound.events import InboundEvent, Reading
from fuzz import inbound_target, make_corpus, operator_target, picture_target

ROOT = Path(__file__).resolve().parent.parent
CHECKS: dict[str, Callable[[bytes], None]] = {
    "inbound_mail": inbound_target.check_inbound_mail,
    "pictures": picture_target.check_picture,
    "operator_files": operator_target.check_operator_file,
}


def _inputs() -> list[tuple[str, Path]]:
    found = []
    for target in CHECKS:
        for folder in (make_corpus.corpus_of(target), ROOT / "fuzz" / f"crashes-{target}"):
            if folder.is_dir():
                found += [
                    (target, path) for path in sorted(folder.iterdir()) if path.name != "README.md"
                ]
    return found


@pytest.mark.parametrize(
    ("target", "path"), _inputs(), ids=lambda value: getattr(value, "name", value)
)
def test_the_target_holds_for(target: str, path: Path) -> None:
    CHECKS[target](path.read_bytes())


@pytest.mark.parametrize("target", sorted(CHECKS))
def test_each_corpus_is_what_its_generator_writes(target: str) -> None:
    folder = make_corpus.corpus_of(target)
    written = {path.name: path.read_bytes() for path in folder.iterdir()}
    generated = dict(make_corpus.TARGET_SEEDS[target]())
    assert sorted(written) == sorted(generated), "run: .venv/bin/python fuzz/make_corpus.py"
    changed = [name for name in written if written[name] != generated[name]]
    assert not changed, f"out of date, run fuzz/make_corpus.py: {changed}"
    assert sum(len(data) for data in generated.values()) < 200_000


def test_scripts_fuzz_names_its_targets() -> None:
    run = subprocess.run(
        [ROOT / "scripts" / "fuzz", "1", "nothing"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 2
    assert "no target 'nothing'" in run.stderr
    for target in ("feed_path", *CHECKS):
        assert target in run.stderr
        assert (ROOT / "fuzz" / f"{target}.py").is_file()


# The checks themselves: each must fire on what it is there to catch.


def _event(**fields: object) -> InboundEvent:
    values: dict[str, object] = {
        "kind": "hard-bounce",
        "event_id": "hard-bounce:delivery 12.345",
        "source": "smtp",
        "subscriber_id": 345,
    }
    values.update(fields)
    return InboundEvent(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reading", "found"),
    [
        (Reading((_event(subscriber_id=999),)), "no token of ours"),
        (Reading((_event(email="sam@example.net", subscriber_id=None),)), "no token of ours"),
        (Reading((_event(kind="unsubscribe", list_slug="other"),)), "never signed"),
        (Reading((_event(event_id="x" * 301),)), "an id of 301"),
        (Reading((_event(event_id="a\x00b"),)), "NUL"),
        (Reading((_event(detail="550\r\nX-Injected: yes"),)), "not one line"),
        (Reading((), "why\nnot"), "not one line"),
    ],
)
def test_the_inbound_check_finds(reading: Reading, found: str) -> None:
    with pytest.raises(inbound_target.InboundFailure, match=found):
        inbound_target.check_reading(reading)


def test_the_inbound_check_finds_an_error_the_reader_logged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: object) -> Reading:
        raise IndexError("a bug")

    monkeypatch.setattr("digest.inbound.read._read", broken)
    with pytest.raises(inbound_target.InboundFailure, match="logged an error"):
        inbound_target.check_inbound_mail(b"Subject: x\r\n\r\nx")


def test_the_picture_check_finds_a_copy_that_is_not_what_it_says() -> None:
    seeds = dict(picture_target.seeds())
    png = seeds["rgba.png"]
    with pytest.raises(picture_target.PictureFailure, match="said to be image/jpeg"):
        picture_target.check_copy(PreparedPicture(png, "image/jpeg", 96, 80), "lead")
    with pytest.raises(picture_target.PictureFailure, match="metadata"):
        exif = seeds["progressive-exif.jpg"]
        picture_target.check_copy(PreparedPicture(exif, "image/jpeg", 96, 80), "lead")
    with pytest.raises(picture_target.PictureFailure, match="a thumbnail of"):
        picture_target.check_copy(PreparedPicture(png, "image/png", 96, 80), "thumb")


def test_the_operator_check_finds_an_error_that_is_no_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: object) -> None:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "a bug")

    monkeypatch.setattr(operator_target, "read_opml", broken)
    with pytest.raises(UnicodeDecodeError):
        operator_target.check_operator_file(b"Kind: opml\n<opml/>")
