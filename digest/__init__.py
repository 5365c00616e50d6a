"""Topic newsletter digests: poll feeds, file articles under topics, compose, render, mail."""

__version__ = "0.1.0"
