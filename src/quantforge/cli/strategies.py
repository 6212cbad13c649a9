"""CLI commands: ``quantforge strategies list|show`` (registered on the shared Typer app)."""

from __future__ import annotations

from quantforge.cli._app import app

__all__ = ["app"]
