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


@dataclass
class Environment:
    """The environment with the values read from files set under their variables."""

    values: dict[str, str]
    origins: dict[str, str] = field(default_factory=dict)
    """A variable set from a file → what set it, for the operator: ``DIGEST_X_FILE=PATH`` or
    ``credential x in DIRECTORY``."""
    files: list[Path] = field(default_factory=list)
    """The files read: a running process reads them again when one changes."""
    problems: list[tuple[str, str]] = field(default_factory=list)


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
            origin = f"{file_variable}={path}"
        elif credentials and not environ.get(variable):
            path = Path(credentials) / credential_name(variable)
            origin = f"credential {credential_name(variable)} in {credentials}"
            if not path.is_file():
                continue
        else:
            continue
        value, why = _read(path)
        if why:
            environment.problems.append((file_variable if named else origin, why))
            continue
        environment.values[variable] = value
        environment.origins[variable] = origin
        environment.files.append(path)
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
