"""Run the ``street2shop`` command line in the test process (TensorFlow is imported once) and capture its output."""

from __future__ import annotations

import contextlib
import io
import subprocess

from street2shop.cli import main


def street2shop(*args: object, check: bool = True) -> subprocess.CompletedProcess:
    """``street2shop ARGS`` through ``cli.main``; with ``check``, a non-zero status fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    done = subprocess.CompletedProcess(["street2shop", *map(str, args)], status, out.getvalue(), err.getvalue())
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done
