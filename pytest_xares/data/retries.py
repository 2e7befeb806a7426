"""How the downloader retries: what a failed request means (retry or stop), and how long to wait.

429 and 5xx answers and dropped connections are retried with exponential backoff (``Retry-After``
honoured) until a bounded time has passed without a byte of progress; a server that cannot be
reached at all is given up on after a few tries; other HTTP errors stop at once.
"""

from __future__ import annotations

import email.utils
import errno
import socket
import time
import urllib.error
from dataclasses import dataclass

from pytest_xares.data.transfer import duration


@dataclass(frozen=True)
class Backoff:
    """How failed requests are retried."""

    first: float = 1.0  # seconds before the first retry, doubled each time
    longest: float = 120.0  # the longest single wait
    give_up: float = 600.0  # seconds of failures without a byte of progress before giving up
    unreachable_tries: int = 3  # a server that cannot be reached at all (no network, wrong host)


class Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.unreachable = unreachable


class Fatal(Exception):
    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class GiveUp(Exception):
    pass


class Retries:
    """Exponential backoff, bounded by the time spent without progress."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self.since = time.monotonic()
        self.attempts = self.unreachable = 0

    def delay(self, failure: Retryable, progressed: bool) -> float:
        """Seconds to wait before the next attempt; raises ``GiveUp`` once the budget is spent."""
        now, b = time.monotonic(), self.backoff
        if progressed:
            self.since, self.attempts = now, 0
        self.attempts += 1
        self.unreachable = self.unreachable + 1 if failure.unreachable else 0
        waited = f"{self.attempts} attempt{'s' if self.attempts > 1 else ''} over {duration(now - self.since)}"
        if self.unreachable >= b.unreachable_tries:
            raise GiveUp(f"{failure} ({waited})")
        wait = (
            min(b.first * 2 ** (self.attempts - 1), b.longest) if failure.retry_after is None else failure.retry_after
        )
        if now - self.since + wait > b.give_up:
            asked = f"; the server asks to wait {duration(wait)} more" if failure.retry_after is not None else ""
            raise GiveUp(f"{failure} (gave up after {waited}{asked})")
        return wait


def classify(error: BaseException) -> Retryable:
    """What a failed attempt means: retry it (returned), or stop (``Fatal`` raised)."""
    if isinstance(error, Retryable):
        return error
    if isinstance(error, urllib.error.HTTPError):
        reason = f"HTTP {error.code} {error.reason}"
        if error.code == 429 or 500 <= error.code < 600:
            return Retryable(reason, retry_after(error.headers.get("Retry-After")))
        raise Fatal(reason, error.code) from None
    if isinstance(error, urllib.error.URLError):
        cause = error.reason
        unreachable = isinstance(cause, (socket.gaierror, ConnectionRefusedError)) or getattr(cause, "errno", None) in (
            errno.ENETUNREACH,
            errno.EHOSTUNREACH,
        )
        return Retryable(f"cannot reach the server ({cause})" if unreachable else str(cause), unreachable=unreachable)
    return Retryable(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
