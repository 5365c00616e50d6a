"""A real small filesystem for the tests of a full disk: a tmpfs of a few megabytes mounted in
a test's folder, which a filler file fills to the last few bytes (mounting needs root, as on
the test machines and CI)."""

from __future__ import annotations

import errno
import os
import pwd
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class SmallDisk:
    """A mounted tmpfs at ``folder``; ``fill`` takes its room, ``free`` gives it back."""

    folder: Path

    @property
    def _filler(self) -> Path:
        return self.folder / ".filler"

    def fill(self, leave: int = 0) -> None:
        """Write the filler until the disk is full, then give ``leave`` bytes of it back (the
        disk's room counts in pages of 4 KiB)."""
        descriptor = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                try:
                    os.write(descriptor, b"\0" * _CHUNK)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
            written = os.fstat(descriptor).st_size
            os.ftruncate(descriptor, max(0, written - leave))
        finally:
            os.close(descriptor)

    def room(self) -> int:
        """The bytes free on the disk."""
        stats = os.statvfs(self.folder)
        return stats.f_bavail * stats.f_frsize

    def free(self) -> None:
        """Give the filler's room back."""
        self._filler.unlink(missing_ok=True)


@contextmanager
def small_disk(folder: Path, size: str = "4m", *, owner: str | None = None) -> Iterator[SmallDisk]:
    """A tmpfs of ``size`` mounted at ``folder`` (made), its root the user ``owner``'s (this
    process's when None: a PostgreSQL tablespace must be the server's user's), unmounted at
    the end."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0700" if owner else f"size={size},mode=0755"
    if owner is not None:
        user = pwd.getpwnam(owner)
        options += f",uid={user.pw_uid},gid={user.pw_gid}"
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        check=True,
        capture_output=True,
    )
    try:
        yield SmallDisk(folder)
    finally:
        # Lazily: a process the test started may still hold a file there for a moment.
        subprocess.run(["umount", "--lazy", str(folder)], check=True, capture_output=True)
