"""CLI commands: data_import (registered on the shared Typer apps in `quantforge.cli._app`)."""

from __future__ import annotations

from quantforge.cli._app import app, data_app

__all__ = ["app", "data_app"]
