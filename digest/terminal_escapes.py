"""What a terminal obeys in serialized text, written as ``\\u`` escapes: the same data to a parser.

``json.dumps`` escapes the C0 controls itself but leaves the rest raw: DEL and the C1 controls
(U+009B opens a control sequence, U+009D an operating system command), the line and paragraph
separators, and the direction controls (U+202E shows the rest of a line backwards). A JSON
string and a TOML basic string both read ``\\u009b`` as the character itself, so escaping them
changes nothing a program reads and leaves nothing for a terminal to obey. The JSON the
commands print (``digest.cli.boundary.json_text``) and the TOML a feeds import writes
(``digest.opml``) go through ``escape_obeyed``.
"""

from __future__ import annotations

import re

OBEYED = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_obeyed(serialized: str) -> str:
    """``serialized`` (JSON, or a TOML basic string) with every character of ``OBEYED`` written
    as its ``\\u`` escape. Only for text where such an escape means the character: inside a
    JSON or TOML string, or between tokens, where these characters may not stand raw anyway."""
    return OBEYED.sub(lambda found: f"\\u{ord(found[0]):04x}", serialized)
