"""References written from what the code knows: the config keys and the commands.

``digest.reference.settings_page`` reads the pydantic settings models, ``commands_page`` the
Typer app. The documentation site builds its reference pages from them (``docs/hooks.py``), and
the tests fail when a key or a command has no description, so the reference cannot drift.
"""
