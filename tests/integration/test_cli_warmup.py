from __future__ import annotations

from typer.testing import CliRunner

from quantforge.cli import app


def test_warmup_compiles_and_reports() -> None:
    result = CliRunner().invoke(app, ["warmup"])
    assert result.exit_code == 0, result.output
    assert "kernels ready in" in result.output
