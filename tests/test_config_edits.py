"""digest.config_edits: what a long-running process (serve, inbound) takes as an edit."""

from __future__ import annotations

import logging
from pathlib import Path

from digest.config import Settings, load_settings
from digest.config_edits import ConfigEdits
from tests.test_config import MINIMAL, write_config


def password(settings: Settings) -> str | None:
    return settings.smtp_password.get_secret_value() if settings.smtp_password else None


def test_a_secret_file_rotated_in_place_is_taken_as_an_edit(tmp_path: Path) -> None:
    # A password rotated in its DIGEST_SMTP_PASSWORD_FILE file was read only at a restart or
    # the next edit of the config file: only the config file's stat was looked at.
    config = write_config(tmp_path, MINIMAL)
    secret = tmp_path / "smtp-password"
    secret.write_text("the old password\n")
    environ = {"DIGEST_SMTP_PASSWORD_FILE": str(secret)}
    edits = ConfigEdits(
        load_settings(config, environ),
        password,
        log=logging.getLogger("test"),
        environ=environ,
    )
    assert edits.take() is None, "nothing changed"
    secret.write_text("the new password, rotated\n")
    taken = edits.take()
    assert taken is not None
    assert taken[1] == "the new password, rotated"
    assert edits.take() is None, "taken once"
