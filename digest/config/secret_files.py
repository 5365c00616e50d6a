"""Secrets read from files rather than the environment: ``DIGEST_X_FILE`` names a file holding
``DIGEST_X``'s value, and a service manager's credentials (systemd's ``LoadCredential=``, in
``$CREDENTIALS_DIRECTORY``) hold it under the variable's name without ``DIGEST_``, lower case.

    DIGEST_X set            ─► that value (with DIGEST_X_FILE as well: refused, one must go)
    DIGEST_X_FILE set       ─► the file's text, its line end dropped (relative: the config's folder)
    credential x present    ─► the credential's text, the same way
    none                    ─► unset, as before

An environment is readable by whoever may read the process's ``/proc/PID/environ``, a unit
file or ``systemctl show``; a file of mode 0600 or a credential is readable by the service alone.
The files are read at each load of the settings: at start, and at each edit of the config file
a running process takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
FILE_SUFFIX = "_FILE"

# The variables whose value may come from a file: the secrets, and the two addresses that
# carry a password.
FILE_VARIABLES = (
    "DIGEST_SECRET_KEY",
    "DIGEST_SMTP_PASSWORD",
    "DIGEST_DKIM_KEY",
    "DIGEST_MAILGUN_SIGNING_KEY",
    "DIGEST_DATABASE_URL",
    "DIGEST_BROKER_URL",
)


def credential_name(variable: str) -> str:
    """The credential that holds ``variable``'s value: DIGEST_SMTP_PASSWORD's is smtp_password."""
    return variable.removeprefix("DIGEST_").lower()


class SecretOrigin(NamedTuple):
    """Where the value of one of FILE_VARIABLES was read from."""

    variable: str
    shown: str
    """For the operator: ``DIGEST_X``, ``DIGEST_X_FILE=PATH`` or ``credential x in DIRECTORY``."""
    by: Literal["environment", "file", "credential"]
    file: Path | None = None
    """The file read (a running process reads it again when it changes); None for a value the
    environment holds itself."""


@dataclass
class Environment:
    """The environment with the values read from files set under their variables."""

    values: dict[str, str]
    origins: dict[str, SecretOrigin] = field(default_factory=dict)
    """Each variable of FILE_VARIABLES that is set → where its value came from."""
    problems: list[tuple[str, str]] = field(default_factory=list)

    def shown(self, variable: str) -> str:
        """Where ``variable``'s value came from, for the operator; the variable itself when
        it is not one of FILE_VARIABLES."""
        origin = self.origins.get(variable)
        return origin.shown if origin is not None else variable


def with_secret_files(environ: Mapping[str, str], base: Path) -> Environment:
    """``environ`` with each variable of FILE_VARIABLES that a file gives set to its text;
    a file that cannot be used is a problem named by its variable."""
    environment = Environment(dict(environ))
    credentials = environ.get(CREDENTIALS_ENV)
    for variable in FILE_VARIABLES:
        file_variable = variable + FILE_SUFFIX
        named = environ.get(file_variable)
        if named and environ.get(variable):
            environment.problems.append(
                (file_variable, f"{variable} is set too: set one of the two")
            )
            continue
        if named:
            path = base / named  # an absolute name stays whole
            origin = SecretOrigin(variable, f"{file_variable}={path}", "file", path)
        elif environ.get(variable):
            environment.origins[variable] = SecretOrigin(variable, variable, "environment")
            continue
        elif credentials:
            path = Path(credentials) / credential_name(variable)
            shown = f"credential {credential_name(variable)} in {credentials}"
            origin = SecretOrigin(variable, shown, "credential", path)
            if not path.is_file():
                continue
        else:
            continue
        value, why = _read(path)
        if why:
            environment.problems.append((file_variable if named else origin.shown, why))
            continue
        environment.values[variable] = value
        environment.origins[variable] = origin
    return environment


def _read(path: Path) -> tuple[str, str]:
    """The secret a file holds and ""; or "" and why the file cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "", f"{path} is not UTF-8 text"
    except OSError as error:
        return "", f"cannot read {path}: {error.strerror}"
    value = text.rstrip("\r\n")  # `echo secret > file` ends it with a line end
    if not value.strip():
        return "", f"{path} is empty: write the secret into it"
    return value, ""
