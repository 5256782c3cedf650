"""Run a Python module with this process's clock moved (for subprocess tests).

    python tests/at.py 2026-11-23T12:00:00+00:00 outreach plan --date 2026-11-23
    python tests/at.py 2026-11-23T14:00:00+00:00 streamlit run app.py --server.port 8600

time-machine moves the clock and lets it tick from there, so the command, its
threads and its worker all believe it is that moment: a subprocess test reads the
same calendar whatever day the suite runs (the in-process tests do the same with
``time_machine.travel``).
"""

import runpy
import sys
from datetime import datetime

import time_machine

if __name__ == "__main__":
    moment, module, *arguments = sys.argv[1:]
    time_machine.travel(datetime.fromisoformat(moment), tick=True).start()
    sys.argv = [module, *arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
