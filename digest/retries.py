"""What becomes of a delivery after a failed attempt: retried later, failed, or parked.

A pure decision (principle 2): it takes the attempt's kind, the counts so far, ``now`` and a
jitter draw, and returns the next step; the ledger (``digest.store.deliveries``) applies it.

    permanent (5xx)                        ─► failed, never tried again
    temporary (4xx, server unreachable)    ─► retried after a backoff, up to ``max_retries``
                                               times, then failed: nothing reached the reader
    unknown (the message's end went out,   ─► retried after a backoff while fewer than
      its reply never came)                    ``max_attempts`` copies may have arrived, then
                                               parked: never sent again unless an operator
                                               releases it (``digest deliveries retry``)

The wait before a retry is ``retry_minutes × 2^(failed attempts − 1)``, capped at
``max_retry_minutes``, plus up to 25% jitter so that a list's retries do not all come back at
the same second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from digest.config import SmtpSettings
from digest.errors import DeliveryError, DeliveryPermanentError, DeliveryUnknownError

AttemptKind = Literal["temporary", "unknown", "permanent"]
Verdict = Literal["retry", "failed", "parked"]

JITTER = 0.25  # the most a wait is lengthened by, as a share of it


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The bounds of ``[smtp]`` (their defaults when mail goes to the outbox folder)."""

    max_attempts: int = 3
    max_retries: int = 8
    retry_minutes: float = 5
    max_retry_minutes: float = 6 * 60

    @classmethod
    def from_settings(cls, smtp: SmtpSettings | None) -> RetryPolicy:
        if smtp is None:
            return cls()
        return cls(
            max_attempts=smtp.max_attempts,
            max_retries=smtp.max_retries,
            retry_minutes=smtp.retry_minutes,
            max_retry_minutes=smtp.max_retry_minutes,
        )


@dataclass(frozen=True, slots=True)
class NextStep:
    verdict: Verdict
    next_attempt_at: datetime | None  # when a retried delivery may go again
    reason: str  # what the ledger keeps as the delivery's last error


def kind_of(error: DeliveryError) -> AttemptKind:
    if isinstance(error, DeliveryPermanentError):
        return "permanent"
    if isinstance(error, DeliveryUnknownError):
        return "unknown"
    return "temporary"


def retry_wait(policy: RetryPolicy, failures: int, jitter: float) -> timedelta:
    """The wait after the ``failures``-th failed attempt in a row (1 for the first);
    ``jitter`` is a draw in [0, 1)."""
    # Doubled one failure at a time, each time within the bound: a cap on the number of
    # doublings stops a first wait far enough below the bound short of it.
    minutes = min(policy.retry_minutes, policy.max_retry_minutes)
    for _ in range(failures - 1):
        minutes = min(2 * minutes, policy.max_retry_minutes)
    return timedelta(minutes=minutes * (1 + JITTER * jitter))


def longest_wait(smtp: SmtpSettings | None) -> timedelta:
    """The longest wait ``retry_wait`` sets under ``[smtp]``: a retry due further ahead than
    this was set by a clock that ran fast and has been set right since."""
    return timedelta(minutes=RetryPolicy.from_settings(smtp).max_retry_minutes * (1 + JITTER))


def next_step(
    policy: RetryPolicy,
    kind: AttemptKind,
    error: str,
    *,
    failures: int,
    unknown: int,
    now: datetime,
    jitter: float,
) -> NextStep:
    """The step after a failed attempt of ``kind``. ``failures`` counts the failed attempts of
    the delivery, this one included; ``unknown`` those of them whose reply never came."""
    if kind == "permanent":
        return NextStep("failed", None, error)
    if kind == "unknown" and unknown >= policy.max_attempts:
        return NextStep(
            "parked",
            None,
            f"{error}; parked after {unknown} copies whose reply never came "
            f"(smtp.max_attempts = {policy.max_attempts}): the reader may have the message "
            "already, so it is not sent again unless you release it "
            "(digest deliveries retry EDITION)",
        )
    if kind == "temporary" and failures - unknown > policy.max_retries:
        return NextStep(
            "failed",
            None,
            f"{error}; gave up after {failures - unknown} temporary failures "
            f"(smtp.max_retries = {policy.max_retries})",
        )
    return NextStep("retry", now + retry_wait(policy, failures, jitter), error)
