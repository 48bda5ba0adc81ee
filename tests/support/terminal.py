"""Run a command on a pseudo-terminal (as a person at a terminal sees it) and read what stays on the screen."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: A line written by the ``logging`` module with the CLI's detailed format.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for ``python -m street2shop.cli``: this checkout's code, no inherited TensorFlow settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PYTEST_"))}
    env.update(PYTHONPATH=str(REPO / "python-lib"), **extra)
    return env


def run_in_terminal(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 600,
                    columns: int = 120) -> tuple[int, str]:
    """Run ``args`` with stdout and stderr on one pseudo-terminal; returns its status and everything written."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env if env is not None else cli_env(),
                               close_fds=True, cwd=REPO)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        else:
            process.kill()
            raise TimeoutError(f"{args} ran past {timeout} s")
    finally:
        os.close(master)
    return process.wait(timeout=30), b"".join(chunks).decode("utf-8", errors="replace")


def screen_lines(output: str) -> list[str]:
    """The lines left on the screen: for each line, what the last carriage return left (a cleared bar is blank)."""
    lines = []
    for line in _ANSI.sub("", output).replace("\r\n", "\n").split("\n"):
        visible = line.split("\r")[-1].rstrip()
        if visible:
            lines.append(visible)
    return lines


def python() -> str:
    return sys.executable
