"""Progress of long work: a live bar on a terminal (``tqdm``), periodic log lines elsewhere (DSS job logs, pipes, CI)."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TextIO

from tqdm import tqdm

_bars = True


def use_bars(enabled: bool) -> None:
    """Allow (the default) or forbid bars; forbidden, every ``Progress`` logs lines (the CLI's ``-v``)."""
    global _bars
    _bars = bool(enabled)


def bars_wanted(stream: TextIO | None = None) -> bool:
    """Whether a ``Progress`` on ``stream`` (default: stderr) draws a bar: bars allowed and a terminal."""
    stream = stream if stream is not None else sys.stderr
    return _bars and bool(getattr(stream, "isatty", lambda: False)())


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


class BarSafeHandler(logging.StreamHandler):
    """A log handler that writes above a live bar (through ``tqdm.write``) instead of breaking it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # logging must never raise into the work it reports on
            self.handleError(record)


class Progress:
    """Counts work done and shows it.

    On a terminal (:func:`bars_wanted`) it is one ``tqdm`` bar on stderr: counts, rate, time
    left and an optional postfix (e.g. an epoch's figures); the bar is cleared when done, so
    only the job's result lines stay. Elsewhere it logs ``label: done/total (rate/s)`` through
    ``logger`` (INFO) first, at most every ``interval_s`` seconds, and at the end; under a bar
    the same lines go at DEBUG (a ``--log-file`` keeps them). ``log_lines=False``: a bar only,
    for work that logs its own lines (training epochs).
    """

    def __init__(
        self,
        total: int | None,
        label: str,
        *,
        logger: logging.Logger | None = None,
        interval_s: float = 5.0,
        stream: TextIO | None = None,
        unit: str = "it",
        log_lines: bool = True,
    ):
        self.total = None if total is None else int(total)
        self.label = label
        self.done = 0
        self._logger = logger or logging.getLogger("street2shop")
        self._interval_s = interval_s
        stream = stream if stream is not None else sys.stderr
        self._bar = None
        if bars_wanted(stream):
            # A terminal that reports no width (a bare pseudo-terminal) would get an empty bar.
            width = {"dynamic_ncols": True} if _columns(stream) > 0 else {"ncols": 100}
            self._bar = tqdm(total=self.total, desc=label, unit=unit, file=stream, leave=False, mininterval=0.2,
                             smoothing=0.1, **width)
        self._started = time.monotonic()
        self._last_report = self._started
        self._reported = -1
        self._closed = False
        self._log_lines = log_lines

    @property
    def is_bar(self) -> bool:
        """True when drawn as a bar (then the count lines are logged at DEBUG only)."""
        return self._bar is not None

    def update(self, count: int = 1) -> None:
        """Record ``count`` more items done; redraw the bar, or log when ``interval_s`` has passed."""
        if count <= 0:
            return
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
        now = time.monotonic()
        if now - self._last_report >= self._interval_s or self._reported < 0:
            self._last_report = now
            self._log()

    def set_postfix(self, text: str) -> None:
        """Show ``text`` after the bar (e.g. ``loss 0.41, val_accuracy 0.82``); log lines are the caller's."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        """Clear the bar, or log the final count (unless it was just logged)."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        if self._reported != self.done:
            self._log()

    @property
    def rate(self) -> float:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return self.done / elapsed

    def _log(self) -> None:
        self._reported = self.done
        if not self._log_lines:
            return
        total = "?" if self.total is None else self.total
        # Under a bar the counts still reach a --log-file (DEBUG), not the terminal.
        level = logging.DEBUG if self._bar is not None else logging.INFO
        self._logger.log(level, "%s: %d/%s (%.1f/s)", self.label, self.done, total, self.rate)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
