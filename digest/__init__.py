"""Topic newsletter digests: poll feeds, file articles under topics, compose, render, mail."""

from digest.tz_database import read_newest

__version__ = "0.1.0"

# Before any timezone is read: the newer tz database's rules, the machine's or the package's.
TZ_DATABASE = read_newest()
