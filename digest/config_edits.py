"""The config file followed by a long-running process that builds what it serves from it
(DESIGN invariant 5): ``digest serve``'s pages and ``digest inbound``'s receiver.

    take() ─► a file's stat changed? ─► read and checked ─► built ─► (settings, built)
                   │ no                       │ refused          │ cannot be built
                   ▼                          ▼                  ▼
                 None                 said once, None     said once per reason, None;
                                                          tried again at the next take()

The caller decides how often to look (a stat costs microseconds, a read milliseconds) and how
to swap what it serves; what is refused leaves the settings in force as they are. The files
looked at are the config file and those its secrets were read from (``DIGEST_X_FILE``, a
credential): a password file rotated in place is taken as an edit is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from digest.config import Settings, load_settings, settings_stamp
from digest.errors import ConfigError, DigestError
from digest.ticking import refuse_edit

Built = TypeVar("Built")

CHECK_EVERY = 1.0  # seconds between two looks at the file's stat (a stat costs microseconds)


class ConfigEdits(Generic[Built]):
    """Edits of ``settings``' file, each built with ``build`` once it passes the checks."""

    def __init__(
        self,
        settings: Settings,
        build: Callable[[Settings], Built],
        *,
        log: logging.Logger,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.settings = settings  # in force: the latest taken
        self._build = build
        self._log = log
        self._environ = environ
        self._stamp = settings_stamp(settings)  # the files as the settings in force read them
        self._unbuilt: str | None = None  # why the latest edit could not be built

    def take(self) -> tuple[Settings, Built] | None:
        """The file's settings and what ``build`` made of them, when the file changed since
        the last look, passes the checks and can be built; else None (module docstring)."""
        current = self.settings
        # Taken before the read: an edit made during it is seen at the next look.
        stamp = settings_stamp(current)
        if stamp == self._stamp and self._unbuilt is None:
            return None
        self._stamp = stamp
        try:
            fresh = load_settings(current.source, self._environ)
        except ConfigError as error:
            self._unbuilt = None  # the file is what is wrong now: said once, until edited
            refuse_edit(error, self._log)
            return None
        if fresh == current:
            self._unbuilt = None
            return None
        try:
            built = self._build(fresh)
        except DigestError as error:
            if str(error) != self._unbuilt:
                refuse_edit(error, self._log)
            self._unbuilt = str(error)  # tried again at the next look: the database may return
            return None
        self._unbuilt = None
        self.settings = fresh
        return fresh, built
