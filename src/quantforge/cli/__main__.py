"""Run the CLI as ``python -m quantforge.cli``."""

from __future__ import annotations

from quantforge.cli import main

main()
