"""The ``rtstyle`` command: one boundary that turns library errors into one-line messages.

Every subcommand lives in its own module with ``register(subparsers)``; modules that need torch
import it inside their ``run`` so ``rtstyle --help`` and the runtime commands work without it.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import RtstyleError
from . import (bench, demo, evaluate, experiment, export, flicker, gatys, image, info,
               refit_wct, sheet, styles, train, train_any, train_wct, video, wct, webcam)
from .args import Parser

COMMANDS = (demo, webcam, image, video, sheet, styles, info, wct, gatys, experiment, train, train_any,
            train_wct, refit_wct, evaluate, export, flicker, bench)


def build_parser() -> Parser:
    parser = Parser(prog="rtstyle", description="Real-time neural style transfer.")
    parser.add_argument("--version", action="version", version=f"rtstyle {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command",
                                parser_class=Parser)
    for module in COMMANDS:
        module.register(sub)
    return parser


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit flush does not fail again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _raise_interrupt(signum, frame):  # SIGTERM behaves like Ctrl-C: clean up, exit 130
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or "--debug" in argv
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO if args.verbose
                        else logging.WARNING, format="rtstyle: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("rtstyle: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. 'rtstyle styles | head': the reader left, nothing to say
        _silence_stdout()
        return 141
    except RtstyleError as e:
        if debug:
            raise
        print(f"rtstyle: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug, or an error a library did not wrap: still one line
        if debug:
            raise
        print(f"rtstyle: error: {type(e).__name__}: {e} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
