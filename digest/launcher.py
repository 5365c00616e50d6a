"""The ``digest`` console script.

Apart from ``digest.cli``, whose package imports every command and with them the whole library
(a second or so): before that, the fork server a sending command will need is started
(``digest.fork_server``), so that it imports the library alongside this process rather than
after it.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    from digest.fork_server import start_early

    start_early(sys.argv[1:], os.environ)
    from digest.cli import main as command_line

    command_line()
