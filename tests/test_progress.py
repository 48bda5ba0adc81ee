"""Progress: a tqdm bar on a terminal (counts, rate, time left, a postfix), log lines with counts and rate elsewhere."""

from __future__ import annotations

import io
import logging
import time

import pytest

from street2shop import progress
from street2shop.progress import BarSafeHandler, Progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO, logger="test.progress")
    return caplog


def test_on_a_terminal_it_is_a_bar_with_counts_rate_and_postfix_and_nothing_is_logged(logs):
    screen = Terminal()
    with Progress(3, "embedding", logger=logging.getLogger("test.progress"), stream=screen, unit="picture") as bar:
        assert bar.is_bar
        for _ in range(3):
            bar.update()
            bar.set_postfix("loss 0.41, best epoch 2")
    drawn = screen.getvalue()
    assert "embedding" in drawn and "3/3" in drawn and "picture/s" in drawn and "loss 0.41, best epoch 2" in drawn
    assert drawn.endswith("\r")  # cleared at the end: only the job's result lines stay on screen
    assert not [r for r in logs.records if r.levelno >= logging.INFO]


def test_elsewhere_it_logs_the_first_count_periodic_ones_and_the_last(logs, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    piped = io.StringIO()
    with Progress(4, "segment", logger=logging.getLogger("test.progress"), stream=piped) as counter:
        assert not counter.is_bar
        for at in (0.5, 1.0, 6.0, 7.0):  # 5 s apart at least: the first, the one at 6 s, and the last at close
            now[0] = at
            counter.update()
    assert piped.getvalue() == ""
    assert [r.getMessage().split(" (")[0] for r in logs.records] == ["segment: 1/4", "segment: 3/4", "segment: 4/4"]


def test_bars_can_be_turned_off_for_detailed_logs(logs):
    progress.use_bars(False)
    try:
        screen = Terminal()
        with Progress(2, "dedup", logger=logging.getLogger("test.progress"), stream=screen) as counter:
            counter.update(2)
        assert not counter.is_bar and screen.getvalue() == ""
        assert [r.getMessage().split(" (")[0] for r in logs.records] == ["dedup: 2/2"]
    finally:
        progress.use_bars(True)


def test_an_unknown_total_still_counts(logs):
    screen = Terminal()
    with Progress(None, "crawl", stream=screen) as bar:
        bar.update(5)
        time.sleep(0.3)  # past the bar's shortest redraw interval
        bar.update(1)
    assert "crawl: 6it" in screen.getvalue() and "it/s" in screen.getvalue()


def test_log_records_are_written_above_a_live_bar():
    screen = Terminal()
    logger = logging.getLogger("test.progress.bar")
    handler = BarSafeHandler(screen)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    logger.addHandler(handler)
    try:
        with Progress(2, "train", stream=screen) as bar:
            bar.update()
            logger.warning("a class has no pictures")
            bar.update()
    finally:
        logger.removeHandler(handler)
    text = screen.getvalue()
    assert "warning: a class has no pictures\n" in text
    assert text.index("warning: a class has no pictures") > text.index("train")  # the bar was there before, and redrawn after


def test_work_that_logs_its_own_lines_gets_a_bar_only(logs):
    with Progress(3, "training", logger=logging.getLogger("test.progress"), stream=io.StringIO(), log_lines=False) as counter:
        counter.update(3)
    assert not logs.records
    screen = Terminal()
    with Progress(3, "training", logger=logging.getLogger("test.progress"), stream=screen, log_lines=False) as bar:
        time.sleep(0.3)  # past the bar's shortest redraw interval
        bar.update(3)
    assert "3/3" in screen.getvalue()
