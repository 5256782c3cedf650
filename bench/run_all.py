"""`make bench`: run every benchmark in bench/ in turn, each with its own defaults.

Results land in bench/results/<name>.json (see bench/common.py). Name some to run only
those, e.g. ``.venv/bin/python bench/run_all.py followup``. Stops at the first failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PREFERRED_ORDER = ("sync", "plan", "page", "followup")
NOT_BENCHMARKS = {"__init__", "common", "run_all"}


def benchmarks() -> list[str]:
    found = {path.stem for path in BENCH.glob("*.py")} - NOT_BENCHMARKS
    return [name for name in PREFERRED_ORDER if name in found] + sorted(found - set(PREFERRED_ORDER))


def main(names: list[str]) -> int:
    chosen = names or benchmarks()
    unknown = set(chosen) - set(benchmarks())
    if unknown:
        print(f"no such benchmark: {', '.join(sorted(unknown))} (have: {', '.join(benchmarks())})")
        return 2
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in chosen:
        print(f"\n=== bench/{name}.py ===", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT, env=env, check=False)
        if done.returncode != 0:
            print(f"bench/{name}.py failed (exit {done.returncode})")
            return done.returncode
        print(f"(bench/{name}.py took {time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
