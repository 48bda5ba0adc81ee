"""The ``street2shop`` command line: one subcommand per module of ``street2shop.commands``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
import threading
from collections.abc import Sequence

from street2shop import __version__, progress
from street2shop.errors import Street2ShopError

#: Subcommand modules, in the order ``--help`` lists them. Each defines NAME, HELP,
#: ``add_arguments(parser)`` and ``run(args) -> int``.
COMMAND_MODULES = (
    "demo",
    "make_demo_catalog",
    "train",
    "train_embedding",
    "descriptors",
    "embed",
    "predict",
    "fit_weights",
    "search",
    "evaluate",
    "dedup",
    "segment",
    "scrape",
    "serve",
)


def _available_commands() -> list:
    modules = []
    for name in COMMAND_MODULES:
        try:
            modules.append(importlib.import_module(f"street2shop.commands.{name}"))
        except ModuleNotFoundError as err:
            if err.name != f"street2shop.commands.{name}":
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="street2shop", description="Photo-to-product search for fashion catalogues.")
    parser.add_argument("--version", action="version", version=f"street2shop {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="detailed logs instead of progress bars (and TensorFlow's own messages)")
    parser.add_argument("--log-file", metavar="FILE", help="also write the detailed logs to FILE")
    # The same options after the command name (``street2shop demo -v``); SUPPRESS keeps the top-level value.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    shared.add_argument("--log-file", metavar="FILE", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _available_commands():
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP, parents=[shared])
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


#: TensorFlow's and absl's C++ log lines (``I0000 00:00:1700000000.1 123 port.cc:153] ...``) and absl's
#: pre-initialisation notice: start-up chatter (CPU features, no CUDA device) that TF_CPP_MIN_LOG_LEVEL
#: does not reach, since TensorFlow 2.21 logs these through absl.
NATIVE_LOG_LINE = re.compile(rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] |WARNING: All log messages before absl::InitializeLog\(\) is called)")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def quiet_tensorflow() -> None:
    """Silence TensorFlow's and absl's start-up chatter; effective only before TensorFlow is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    for name in ("absl", "h5py", "PIL"):
        logging.getLogger(name).setLevel(logging.ERROR)


class NativeStderrFilter:
    """Drops native log lines (:data:`NATIVE_LOG_LINE`) written to file descriptor 2 by C++ code.

    Python's ``sys.stderr`` moves to a copy of the original descriptor (still a terminal, so bars
    and ``isatty`` work); descriptor 2 becomes a pipe whose lines are forwarded unless they are
    native log lines. A fatal (``F``) line or a crash report still gets through.
    """

    def __init__(self) -> None:
        sys.stderr.flush()
        self._saved = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._read_end = read_end
        self._previous = sys.stderr
        sys.stderr = os.fdopen(os.dup(self._saved), "w", buffering=1, encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
                               errors="backslashreplace")
        self._thread = threading.Thread(target=self._forward, name="stderr-filter", daemon=True)
        self._thread.start()

    def _forward(self) -> None:
        pending = b""
        while True:
            chunk = os.read(self._read_end, 65536)
            if not chunk:
                break
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            kept = [line + b"\n" for line in lines if not NATIVE_LOG_LINE.match(line)]
            if kept:
                os.write(self._saved, b"".join(kept))
        if pending and not NATIVE_LOG_LINE.match(pending):
            os.write(self._saved, pending)
        os.close(self._read_end)

    def close(self) -> None:
        """Put descriptor 2 and ``sys.stderr`` back, after forwarding what is still in the pipe."""
        sys.stderr.flush()
        replaced, sys.stderr = sys.stderr, self._previous
        os.dup2(self._saved, 2)  # closes the pipe's last write end: the thread sees its end
        self._thread.join(timeout=5)
        replaced.close()
        os.close(self._saved)


def configure_output(*, verbose: bool, log_file: str | None) -> list[logging.Handler]:
    """Log handlers for a run; returns them so that :func:`main` can remove them.

    ``-v``: detailed logs (DEBUG) on stderr, no bars. A terminal: bars, and only warnings,
    written as ``warning: ...`` above the bars. Elsewhere (a pipe, CI): today's INFO log lines
    with counts and rate. ``--log-file`` adds the detailed logs to a file in every case.
    """
    progress.use_bars(not verbose)
    root = logging.getLogger()
    handlers: list[logging.Handler] = []
    if verbose:
        console: logging.Handler = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.DEBUG)
        console.setFormatter(logging.Formatter(LOG_FORMAT))
    elif progress.bars_wanted(sys.stderr):
        console = progress.BarSafeHandler(sys.stderr)
        console.setLevel(logging.WARNING)
        console.setFormatter(_TerminalFormatter())
    else:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.INFO)
        console.setFormatter(logging.Formatter(LOG_FORMAT))
    handlers.append(console)
    if log_file:
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setLevel(logging.DEBUG)
        to_file.setFormatter(logging.Formatter(LOG_FORMAT))
        handlers.append(to_file)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(min(handler.level for handler in handlers))
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    return handlers


class _TerminalFormatter(logging.Formatter):
    """``warning: message`` (``error: ...``): what a person at a terminal needs of a log record."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}" + (f"\n{self.formatException(record.exc_info)}" if record.exc_info else "")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; bad input ends with a one-line error on stderr and status 2.

    ``argv`` None means the process's own command line: then native log lines written to
    descriptor 2 are filtered too (unless ``-v``); a caller passing ``argv`` keeps its streams.
    """
    args = build_parser().parse_args(argv)
    if not args.verbose:
        quiet_tensorflow()  # before any command imports TensorFlow
    native_filter = NativeStderrFilter() if argv is None and not args.verbose and _is_real_stderr() else None
    root = logging.getLogger()
    level = root.level
    handlers = configure_output(verbose=args.verbose, log_file=args.log_file)
    try:
        return int(args.run(args) or 0)
    except Street2ShopError as err:
        print(f"street2shop {args.command}: error: {err}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"street2shop {args.command}: error: file not found: {err.filename or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"street2shop {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)
        progress.use_bars(True)
        if native_filter is not None:
            native_filter.close()


def _is_real_stderr() -> bool:
    try:
        return sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


if __name__ == "__main__":
    sys.exit(main())
