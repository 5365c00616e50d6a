"""The example configuration shipped with digest: its config file, sample feeds and subscribers.

An installed wheel carries them inside the package (``digest/example/``); a checkout keeps them in
its ``config/`` folder. ``digest config example DIR`` copies them out, so that the first command
runs where no checkout is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import digest
from digest.errors import DigestError

# What the example is made of, each relative to its folder.
EXAMPLE_CONFIG = "example.toml"
EXAMPLE_PARTS = (EXAMPLE_CONFIG, "samples", "subscribers")


def bundled_example_folder() -> Path:
    """The folder of the example shipped with the service."""
    package = Path(digest.__file__).parent
    bundled = package / "example"  # where wheel installs put it
    if bundled.is_dir():
        return bundled
    return package.parent / "config"


def write_example(folder: Path) -> Path:
    """Copy the example's config file, sample feeds and subscribers into ``folder`` (made when
    missing); the path of its config file. Nothing is written over: a part already there is
    refused before anything is copied."""
    source = bundled_example_folder()
    for part in EXAMPLE_PARTS:
        target = folder / part
        if target.exists() or target.is_symlink():
            raise DigestError(
                f"{target}: already exists; the example is written only where none of its "
                "parts is (example.toml, samples/, subscribers/): give another folder, or "
                "move it away"
            )
    folder.mkdir(parents=True, exist_ok=True)
    for part in EXAMPLE_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, folder / part)
        else:
            shutil.copyfile(source / part, folder / part)
    return folder / EXAMPLE_CONFIG
