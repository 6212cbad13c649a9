"""The ``quantforge`` (alias ``qf``) command: thin wiring over the library.

User mistakes and data problems (`QuantforgeError`) become one clear message and a non-zero exit
(2 for usage/configuration errors, 1 for failures); tracebacks only with ``--debug``.
"""

from __future__ import annotations

import importlib
import logging
import sys

from rich.markup import escape

from quantforge.cli._app import app, err_console
from quantforge.errors import QuantforgeError

log = logging.getLogger(__name__)

# Modules that register commands on the shared Typer apps (imported for that side effect).
_COMMAND_MODULES = (
    "quantforge.cli.data_fetch",
    "quantforge.cli.data_catalog",
    "quantforge.cli.data_import",
    "quantforge.cli.demo",
    "quantforge.cli.strategies",
    "quantforge.cli.run",
    "quantforge.cli.results",
    "quantforge.cli.optimize",
    "quantforge.cli.validate",
    "quantforge.cli.report",
    "quantforge.cli.warmup",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name)

__all__ = ["app", "main"]


def main() -> None:
    """Run the CLI, turning quantforge errors into a message and an exit code."""
    debug = "--debug" in sys.argv[1:]
    try:
        app()
    except QuantforgeError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)
    except OSError as exc:  # a folder that cannot be created or written, a full disk
        if debug:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        err_console.print(
            f"[bold red]error:[/] {escape(exc.strerror or str(exc))}{escape(where)}; check that "
            "the path is a folder you can write to and that the disk has room "
            "(--debug shows the traceback)",
            highlight=False,
        )
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
