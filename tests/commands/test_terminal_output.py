"""What a long command shows: a live bar on a terminal, log lines in a pipe, detailed logs with -v or --log-file,
and none of TensorFlow's native start-up lines unless -v."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from terminal import LOG_LINE, cli_env, run_in_terminal, screen_lines

CATALOGUE = [sys.executable, "-m", "street2shop.cli"]


def _catalogue_args(out) -> list[str]:
    return ["make-demo-catalog", str(out), "--products", "12", "--size", "96"]


def test_on_a_terminal_a_bar_and_the_result_no_log_lines(tmp_path):
    status, output = run_in_terminal(CATALOGUE + _catalogue_args(tmp_path / "c"))
    assert status == 0, output[-2000:]
    assert "demo catalogue:" in output and "%|" in output and "it/s" in output  # the bar was drawn
    lines = screen_lines(output)
    assert not [line for line in lines if LOG_LINE.match(line)]
    assert lines[-1].startswith('{"out": ')  # the result, and the bar cleared before it


def test_in_a_pipe_the_periodic_log_lines_and_no_bar_redraws(tmp_path):
    done = subprocess.run(CATALOGUE + _catalogue_args(tmp_path / "c"), capture_output=True, text=True, env=cli_env(), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "\r" not in done.stderr and "%|" not in done.stderr
    counts = [line for line in done.stderr.splitlines() if LOG_LINE.match(line) and "INFO street2shop: demo catalogue: " in line]
    assert counts and counts[-1].split("demo catalogue: ")[1].startswith("40/40 (")
    assert done.stdout.startswith('{"out": ')


def test_verbose_brings_the_detailed_logs_back_instead_of_the_bar(tmp_path):
    status, output = run_in_terminal(CATALOGUE + ["-v"] + _catalogue_args(tmp_path / "c"))
    assert status == 0, output[-2000:]
    assert "%|" not in output
    assert [line for line in screen_lines(output) if LOG_LINE.match(line) and "demo catalogue: 40/40" in line]


def test_a_log_file_gets_the_detailed_logs_while_the_terminal_shows_the_bar(tmp_path):
    log = tmp_path / "run.log"
    status, output = run_in_terminal(CATALOGUE + ["--log-file", str(log)] + _catalogue_args(tmp_path / "c"))
    assert status == 0, output[-2000:]
    assert "%|" in output and not [line for line in screen_lines(output) if LOG_LINE.match(line)]
    written = log.read_text(encoding="utf-8").splitlines()
    assert any(re.search(r"INFO street2shop.demo.catalogue: demo catalogue: \d+ products", line) for line in written)
    assert any(re.search(r"DEBUG street2shop: demo catalogue: 40/40 \(", line) for line in written)  # the bar's counts
    assert all(LOG_LINE.match(line) for line in written)


NATIVE_NOISE = r"""
import os, sys
sys.argv = ["street2shop", "--version"]
from street2shop import cli
native = cli.NativeStderrFilter()
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
os.write(2, b"I0000 00:00:1796324922.623460   25384 port.cc:153] oneDNN custom operations are on.\n")
os.write(2, b"E0000 00:00:1796324523.875587   19121 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n")
os.write(2, b"F0000 00:00:1796324523.875587   19121 x.cc:1] Check failed: fatal\n")
os.write(2, b"a real message from C\n")
print("from python", file=sys.stderr, flush=True)
native.close()
print("after", file=sys.stderr)
"""


def test_native_log_lines_are_dropped_and_everything_else_gets_through():
    done = subprocess.run([sys.executable, "-c", NATIVE_NOISE], capture_output=True, text=True, env=cli_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert sorted(lines) == sorted(["F0000 00:00:1796324523.875587   19121 x.cc:1] Check failed: fatal", "a real message from C",
                                    "from python", "after"])


def test_tensorflow_start_up_is_silent_on_a_terminal(tmp_path):
    status, output = run_in_terminal(CATALOGUE + ["descriptors", str(tmp_path / "d"), "--size", "32"])
    assert status == 0, output[-2000:]
    for noise in ("oneDNN", "cuInit", "cuda", "absl", "I0000", "E0000", "WARNING", "retracing"):
        assert noise not in output, output[-2000:]


def test_scrape_on_a_terminal_shows_a_bar_of_stored_products_and_its_result(tmp_path):
    from marketplace_fixture import Marketplace

    with Marketplace(faults=False) as market:
        spec = tmp_path / "site.json"
        spec.write_text(json.dumps(market.site_spec(read_timeout_s=2.0, backoff_factor_s=0.02, max_retries=2)), encoding="utf-8")
        status, output = run_in_terminal(CATALOGUE + ["scrape", "--site", str(spec), "--out", str(tmp_path / "out"),
                                                      "--delay", "0.1", "--max-products", "6"], timeout=300)
    assert status == 0, output[-2000:]
    assert re.search(r"scraping \S+: +\d+%\|", output) and "product/s" in output and "page 1" in output
    lines = screen_lines(output)
    assert not [line for line in lines if LOG_LINE.match(line)], lines
    assert json.loads(lines[-1])["stored"] == 6
