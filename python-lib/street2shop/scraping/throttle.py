"""A per-host rate limiter: at least an interval between request starts, longer when robots.txt or a 429 asks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class HostThrottle:
    """Spaces the requests to each host by at least ``interval_s`` (start to start).

    When several crawls of one site run at once (one per category, e.g. DSS partitions in
    containers), give each the interval multiplied by their number (see
    ``CrawlSettings.request_interval_s``): together they then keep to the site's rate.

    Args:
        interval_s: seconds between two request starts to one host.
        clock / sleep: injectable for tests.
    """

    def __init__(self, interval_s: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval_s = float(interval_s)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_start: dict[str, float] = {}
        self._host_interval: dict[str, float] = {}
        self.waited_s = 0.0

    def set_min_interval(self, host: str, seconds: float | None) -> None:
        """Raise ``host``'s interval to ``seconds`` (robots.txt ``Crawl-delay``, already scaled); never lowers it."""
        if seconds is not None and seconds > self.interval_s:
            self._host_interval[host] = float(seconds)

    def interval_for(self, host: str) -> float:
        """Seconds between two request starts to ``host``."""
        return self._host_interval.get(host, self.interval_s)

    def defer(self, host: str, seconds: float) -> None:
        """No request to ``host`` before ``seconds`` from now (backoff, ``Retry-After``)."""
        with self._lock:
            not_before = self._clock() + max(0.0, seconds)
            self._next_start[host] = max(self._next_start.get(host, 0.0), not_before)

    def wait(self, host: str) -> float:
        """Block until a request to ``host`` may start, and book that start; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start.get(host, now))
            self._next_start[host] = start + self.interval_for(host)
        pause = start - now
        if pause > 0:
            self._sleep(pause)
            self.waited_s += pause
        return pause
