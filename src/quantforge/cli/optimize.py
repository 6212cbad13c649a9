"""CLI commands: optimize (registered on the shared Typer app in `quantforge.cli._app`)."""

from __future__ import annotations

from quantforge.cli._app import app

__all__ = ["app"]
