"""A per-host rate limiter: at least an interval between request starts, longer when robots.txt or a 429 asks.

Every request to a host (robots.txt, pages, retries, redirect hops, pictures) takes its slot here.
The next slot is worked out when it is asked for, from the previous request's actual start and the
host's interval at that moment: an interval raised after a request (robots.txt's ``Crawl-delay``
read after its own fetch) or a start later than planned (a late wake-up after a long backoff)
lengthens the wait instead of leaving a slot booked with stale figures.
"""

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
        self._last_start: dict[str, float] = {}
        self._not_before: dict[str, float] = {}
        self._host_interval: dict[str, float] = {}
        self.waited_s = 0.0

    def set_min_interval(self, host: str, seconds: float | None) -> None:
        """Raise ``host``'s interval to ``seconds`` (robots.txt ``Crawl-delay``, already scaled); never lowers it."""
        with self._lock:
            if seconds is not None and seconds > self._host_interval.get(host, self.interval_s):
                self._host_interval[host] = float(seconds)

    def interval_for(self, host: str) -> float:
        """Seconds between two request starts to ``host``."""
        return self._host_interval.get(host, self.interval_s)

    def defer(self, host: str, seconds: float) -> None:
        """No request to ``host`` before ``seconds`` from now (backoff, ``Retry-After``)."""
        with self._lock:
            not_before = self._clock() + max(0.0, seconds)
            self._not_before[host] = max(self._not_before.get(host, not_before), not_before)

    def wait(self, host: str) -> float:
        """Block until a request to ``host`` may start, and take that start (now); returns the seconds waited.

        The request must be sent right after: its start is the time this returns.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                last = self._last_start.get(host)
                due = max(self._not_before.get(host, now), now if last is None else last + self.interval_for(host))
                if now >= due:
                    self._last_start[host] = now
                    self.waited_s += waited
                    return waited
            # Sleep outside the lock (other hosts go on), then check again: the interval or a
            # deferral may have changed meanwhile, and a sleep may end early.
            self._sleep(due - now)
            waited += due - now
