"""Shared helpers for the benchmarks: fresh processes, medians, a results file.

Each measurement runs in its own Python process, so peak memory (ru_maxrss) is
that measurement's own, and the machine's noise is tamed by taking medians.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def run_in_subprocess(module: str, *args: str) -> dict[str, Any]:
    """Run ``python -m module args`` and return the JSON it prints on its last line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = runs[0].keys()
    return {k: (statistics.median(r[k] for r in runs) if isinstance(runs[0][k], (int, float))
                else runs[0][k]) for k in keys}


def save(name: str, summary: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=2, default=str))


def report(title: str, rows: list[tuple[str, Any, str]]) -> None:
    print(f"\n{title}")
    for label, value, target in rows:
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"  {label:<40} {shown:>12}   {target}")


def repeat(times: int, measure: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
    return [measure() for _ in range(times)]


def team_rows(reps: int, now: Any) -> list[dict[str, Any]]:
    """Rows for the reps table: ``reps`` callers in New York (ids 1..reps) and their manager."""
    callers = [{"id": n + 1, "email": f"rep{n}@example.com", "name": f"Rep Number{n}",
                "time_zone": "America/New_York", "daily_calls": 3, "active": True, "role": "rep",
                "in_sheet": True, "updated_at": now, "manager_email": "boss@example.com"}
               for n in range(reps)]
    boss = {"id": reps + 1, "email": "boss@example.com", "name": "The Boss",
            "time_zone": "America/New_York", "daily_calls": 0, "active": True, "role": "manager",
            "in_sheet": True, "updated_at": now, "manager_email": None}
    return [*callers, boss]
