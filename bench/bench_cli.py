"""Time how long the ``quantforge`` command takes to start: ``--help`` and two light commands.

Each case runs in a fresh process (the way a shell runs it), ``--repeat`` times; the median and
the best are reported, next to a bare ``python -c pass`` as the floor of any Python command.

Run: .venv/bin/python bench/bench_cli.py [--repeat 9]. Prints one JSON line, then a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

EXE = Path(sys.executable)
QF = EXE.parent / "quantforge"
CASES = {
    "python -c pass (floor)": [str(EXE), "-c", "pass"],
    "quantforge --help": [str(QF), "--help"],
    "quantforge data fetch --help": [str(QF), "data", "fetch", "--help"],
    "quantforge strategies list": [str(QF), "strategies", "list"],
}


def _time(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="runs per case (fresh processes)")
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeat):  # cases take turns, so load swings hit each alike
        for name, cmd in CASES.items():
            samples[name].append(_time(cmd))
    figures = {
        name: {"median_s": statistics.median(v), "best_s": min(v)} for name, v in samples.items()
    }
    load = os.getloadavg()[0]
    print(json.dumps({"repeat": args.repeat, "load_1m": load, "cases": figures}))
    print(f"{'command':<32}{'median (s)':>12}{'best (s)':>10}   load {load:.2f}")
    for name, f in figures.items():
        print(f"{name:<32}{f['median_s']:>12.3f}{f['best_s']:>10.3f}")


if __name__ == "__main__":
    main()
