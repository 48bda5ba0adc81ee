"""``street2shop demo`` as a newcomer sees it on a terminal: the step lines and results, live bars that clear,
no logger line and no TensorFlow warning (start-up chatter, retracing), each step fitting on one screen."""

from __future__ import annotations

import re
import sys

import pytest

from terminal import LOG_LINE, run_in_terminal, screen_lines

STEP = re.compile(r"^\[(\d)/6\] ")
TENSORFLOW_NOISE = ("oneDNN", "cuInit", "cuda", "absl", "I0000", "E0000", "W0000", "retracing", "tf.function",
                    "WARNING", "UserWarning", "DeprecationWarning", "Traceback")
SCREEN_ROWS = 40


@pytest.mark.slow
def test_the_demo_output_reads_as_steps_and_results(tmp_path):
    status, output = run_in_terminal(
        [sys.executable, "-m", "street2shop.cli", "demo", "--no-serve", "--out", str(tmp_path / "demo"), "--products", "24",
         "--train-epochs", "4", "--metric-budget", "5", "--descriptor-size", "32"],
        timeout=900,
    )
    assert status == 0, output[-3000:]
    for noise in TENSORFLOW_NOISE:
        assert noise not in output, f"{noise!r} in the demo's output:\n{output[-3000:]}"
    lines = screen_lines(output)
    assert not [line for line in lines if LOG_LINE.match(line)]
    # Every line left on screen is a step, an indented result, the metrics JSON, the report path or a warning.
    odd = [line for line in lines if not (STEP.match(line) or line.startswith(("      ", '{"queries"', "report: ", "warning: ")))]
    assert not odd, odd
    steps = [int(STEP.match(line).group(1)) for line in lines if STEP.match(line)]
    assert steps == [1, 2, 3, 4, 5, 6]
    starts = [i for i, line in enumerate(lines) if STEP.match(line)] + [len(lines)]
    assert max(b - a for a, b in zip(starts, starts[1:])) <= SCREEN_ROWS
    # Long jobs drew bars (cleared since): the attribute models' epochs with their figures as the postfix.
    assert re.search(r"training type: +\d+%\|", output) and ("epoch/s" in output or "s/epoch" in output)
    assert re.search(r"val_accuracy [\d.]+, best epoch \d", output)
    assert "training the metric embedding" in output and "embedding:" in output
