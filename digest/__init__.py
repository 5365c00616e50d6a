"""Topic newsletter digests: poll feeds, file articles under topics, compose, render and mail editions."""

__version__ = "0.1.0"
