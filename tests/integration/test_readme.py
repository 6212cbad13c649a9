"""The README's Python examples run as written (on a catalog holding real BTCUSDT 15m bars)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from quantforge.data import Catalog

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_starts_with_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S)
    assert first_block is not None
    lines = [ln for ln in first_block.group(1).splitlines() if ln.strip()]
    assert len(lines) == 2
    assert lines[0].endswith("quantforge demo")
    assert lines[1].endswith("python -m pytest")
    assert text.index("```bash") < text.index("quantforge is a Python framework")


@pytest.fixture
def catalog_dir(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bars = pl.read_parquet(shared_data / "BTCUSDT-15m.parquet").with_columns(
        pl.col("open_time").cast(pl.Datetime("ms", "UTC"))
    )
    bars = bars.filter(pl.col("open_time").dt.year() == 2024)
    Catalog(tmp_path / "catalog").write_bars(bars, symbol="BTCUSDT", interval="15m")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("index", range(3))
def test_readme_python_example_runs(catalog_dir: Path, index: int) -> None:
    blocks = _python_blocks()
    assert len(blocks) == 3
    namespace: dict[str, object] = {"__name__": f"readme_example_{index}"}
    exec(compile(blocks[index], f"README.md[python {index}]", "exec"), namespace)
    result = namespace["result"]
    assert result.metrics["n_trades"] >= 1  # type: ignore[attr-defined]
