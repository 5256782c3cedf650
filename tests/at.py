"""Run a Python module with this process's clock moved (for subprocess tests).

    python tests/at.py 2026-11-23T12:00:00+00:00 outreach plan --date 2026-11-23
    python tests/at.py 2026-11-23T14:00:00+00:00 streamlit run app.py --server.port 8600
    python tests/at.py -2419200 outreach worker     # the real clock, four weeks earlier

time-machine moves the clock and lets it tick from there, so the command, its
threads and its worker all believe it is that moment: a subprocess test reads the
same calendar whatever day the suite runs (the in-process tests do the same with
``time_machine.travel``). A moment given as seconds (``+N`` or ``-N``) shifts the
real clock instead, so processes started at different times — a worker restarted
after a kill, and the test watching it — share one moved clock.
"""

import os
import runpy
import sys
from datetime import UTC, datetime, timedelta

import time_machine


def moved(moment: str) -> datetime:
    if moment[:1] in "+-":
        return datetime.now(UTC) + timedelta(seconds=float(moment))
    return datetime.fromisoformat(moment)


if __name__ == "__main__":
    moment, module, *arguments = sys.argv[1:]
    time_machine.travel(moved(moment), tick=True).start()
    sys.argv = [module, *arguments]
    sys.path.insert(0, os.getcwd())  # as `python -m module` would have it
    runpy.run_module(module, run_name="__main__", alter_sys=True)
