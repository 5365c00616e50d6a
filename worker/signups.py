"""The distributed mode's sign-up queue: each sign-up goes to the workers as a task."""

from __future__ import annotations

import logging

from digest.signup import SignUpRequest
from digest.web.signups import QueueUnavailable
from worker.app import app

_log = logging.getLogger(__name__)


class CeleryQueue:
    """Sends each sign-up to the workers as the task ``digest.sign_up``."""

    after_response = False

    def submit(self, request: SignUpRequest) -> None:
        try:
            app.send_task("digest.sign_up", request.as_args())
        except Exception as error:  # whatever kombu raises for a broker down
            _log.error("list %r: the broker did not take a sign-up: %s", request.list_slug, error)
            raise QueueUnavailable(f"the broker did not take the sign-up: {error}") from error

    def close(self) -> None:
        """Nothing to let go of: each sign-up left with its task."""
