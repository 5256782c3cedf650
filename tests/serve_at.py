"""Start the real Streamlit server with the clock moved (for browser tests and screenshots only).

    python tests/serve_at.py 2026-11-23T14:00:00+00:00 [streamlit run arguments...]

time-machine moves this process's clock and lets it tick from there, so the
server, its worker and every page believe it is that moment.
"""

import sys
from datetime import datetime

import time_machine
from streamlit.web import cli

if __name__ == "__main__":
    time_machine.travel(datetime.fromisoformat(sys.argv[1]), tick=True).start()
    sys.argv = ["streamlit", "run", "app.py", *sys.argv[2:]]
    sys.exit(cli.main())
