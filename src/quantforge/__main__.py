"""Run the CLI as ``python -m quantforge``."""

from __future__ import annotations

from quantforge.cli import main

main()
