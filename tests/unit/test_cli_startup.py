"""The CLI starts without importing the heavy libraries: ``quantforge --help`` stays quick.

Each command imports what it needs when it runs; these tests hold the command modules to that
(a module-level ``import polars`` in any of them would fail here), without timing anything.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "numpy",
    "polars",
    "pyarrow",
    "numba",
    "sqlalchemy",
    "alembic",
    "matplotlib",
    "plotly",
    "optuna",
    "httpx",
    "pydantic",
    "pydantic_settings",
    "yaml",
    "ray",
)


def _loaded_after(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    probe = (
        f"import json, sys\n{code}\nprint(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _loaded_after("import quantforge.cli") == []


def test_help_of_every_command_loads_no_heavy_library() -> None:
    code = (
        "from typer.testing import CliRunner\n"
        "from quantforge.cli import app\n"
        "for args in (['--help'], ['data', '--help'], ['run', '--help'], ['results', '--help'],\n"
        "             ['report', '--help'], ['optimize', '--help'], ['validate', '--help'],\n"
        "             ['demo', '--help'], ['data', 'fetch', '--help'], ['strategies', '--help']):\n"
        "    result = CliRunner().invoke(app, args)\n"
        "    assert result.exit_code == 0, (args, result.output)\n"
    )
    # Typer itself imports pydantic while it builds a command's parameters (its pydantic support)
    assert _loaded_after(code, tuple(m for m in HEAVY if m != "pydantic")) == []


def test_a_command_still_imports_what_it_needs() -> None:
    # the probe can fail: running a command that needs polars does load it
    code = (
        "from typer.testing import CliRunner\n"
        "from quantforge.cli import app\n"
        "result = CliRunner().invoke(app, ['strategies', 'list', '--json'])\n"
        "assert result.exit_code == 0, result.output\n"
    )
    assert "numpy" in _loaded_after(code)
