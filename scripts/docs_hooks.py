"""MkDocs hook: the reference pages are written from the code at every build, never by hand.

``reference/configuration.md`` comes from the settings models (``digest.reference.settings_page``),
``reference/commands.md`` from the command line (``digest.reference.commands_page``) and
``reference/metrics.md`` from the metrics' specs (``digest.reference.metrics_page``). They exist
only in the built site, so there is no copy in ``docs/`` to fall behind the code.
"""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files

from digest.reference import commands_page, metrics_page, settings_page

GENERATED = {
    "reference/configuration.md": settings_page.markdown,
    "reference/commands.md": commands_page.markdown,
    "reference/metrics.md": metrics_page.markdown,
}


def on_files(files: Files, config: Any) -> Files:
    """Add the generated pages to the site's files, where the nav finds them."""
    for path, write in GENERATED.items():
        files.append(File.generated(config, path, content=write()))
    return files
