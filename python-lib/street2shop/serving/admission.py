"""Admission by a pixel budget: how many decoded pixels the server holds at once, whatever the requests' number.

A picture's memory grows with its pixels, not its bytes (an 8 KB PNG may hold 49 million
pixels), so the thread count alone does not bound the server's memory. Each request holds its
picture's pixels (as decoded, after any reduced-scale decode) from decoding to its answer; one
that does not fit waits in line, and past the wait it is refused (503 with ``Retry-After``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class BudgetExhausted(Exception):
    """The budget stayed full for the whole wait."""


class PixelBudget:
    """At most ``budget`` pixels held at once; a request larger than the whole budget waits for all of it.

    Example:
        >>> budget = PixelBudget(100_000_000, wait_s=10)
        >>> with budget.hold(7000 * 7000):
        ...     decode_and_answer()
    """

    def __init__(self, budget: int, *, wait_s: float):
        self.budget = int(budget)
        self.wait_s = float(wait_s)
        self._held = 0
        self._peak = 0
        self._condition = threading.Condition()

    @property
    def held(self) -> int:
        """Pixels held now."""
        return self._held

    @property
    def peak(self) -> int:
        """Most pixels ever held at once."""
        return self._peak

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        """Hold ``pixels`` of the budget for the block; waits up to ``wait_s`` for room.

        Raises:
            BudgetExhausted: no room within ``wait_s``.
        """
        wanted = max(1, min(int(pixels), self.budget))
        deadline = time.monotonic() + self.wait_s
        with self._condition:
            while self._held + wanted > self.budget:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BudgetExhausted(f"{self._held} of {self.budget} pixels are being decoded")
                self._condition.wait(left)
            self._held += wanted
            self._peak = max(self._peak, self._held)
        try:
            yield
        finally:
            with self._condition:
                self._held -= wanted
                self._condition.notify_all()
