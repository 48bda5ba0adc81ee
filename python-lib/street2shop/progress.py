"""Progress reporting for long work: log lines with counts and rate (DSS job logs), a bar on a terminal."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO


class Progress:
    """Counts work done and reports it at most every ``interval_s`` seconds.

    On a terminal it draws a one-line bar on stderr; elsewhere (DSS job logs, CI) it logs
    ``label: done/total (rate/s)`` lines through the given logger.
    """

    def __init__(
        self,
        total: int,
        label: str,
        *,
        logger: logging.Logger | None = None,
        interval_s: float = 5.0,
        stream: TextIO | None = None,
    ):
        self.total = int(total)
        self.label = label
        self.done = 0
        self._logger = logger or logging.getLogger("street2shop")
        self._interval_s = interval_s
        self._stream = stream if stream is not None else sys.stderr
        self._is_tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._started = time.monotonic()
        self._last_report = 0.0
        self._reported = -1

    def update(self, count: int = 1) -> None:
        """Record ``count`` more items done and report if it is time."""
        self.done += count
        now = time.monotonic()
        if self._is_tty or now - self._last_report >= self._interval_s or self.done >= self.total:
            self._last_report = now
            self._report(final=False)

    def close(self) -> None:
        """Report the final count (unless it was just reported)."""
        if self._is_tty or self._reported != self.done:
            self._report(final=True)

    @property
    def rate(self) -> float:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return self.done / elapsed

    def _report(self, *, final: bool) -> None:
        self._reported = self.done
        message = f"{self.label}: {self.done}/{self.total} ({self.rate:.1f}/s)"
        if self._is_tty:
            width = 30
            filled = int(width * self.done / self.total) if self.total else width
            self._stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}")
            if final:
                self._stream.write(f" ({self.rate:.1f}/s)\n")
            self._stream.flush()
        else:
            self._logger.info(message)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
