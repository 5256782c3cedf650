"""`make run`: the Streamlit server with the background worker inside it from the first second.

Streamlit runs app.py only when a browser connects, so a worker started by the page
would sleep until someone opened it: no sync, no 07:30 call lists and no reminders on
a morning nobody looks. This launcher starts the worker in the server's own process,
then hands over to Streamlit's command line. The page still calls
:func:`start_in_background` (a no-op here) so that a plain ``streamlit run app.py``
gets its worker too, once the first visitor arrives.

    python -m outreach.serve [streamlit options, e.g. --server.port 8501]
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading

from outreach import app_address, logs
from outreach.errors import OutreachError
from outreach.runtime import Runtime
from outreach.settings import PROJECT_ROOT, load_settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_stop: threading.Event | None = None


def start_in_background(runtime: Runtime) -> threading.Event:
    """Start this process's worker thread, once; return the event that stops it."""
    global _stop
    from outreach.worker import Worker  # the worker pulls in the mail and sheet clients

    with _lock:
        if _stop is None:
            _stop = threading.Event()
            thread = threading.Thread(target=Worker(runtime).run_forever, args=(_stop,),
                                      name="outreach-worker", daemon=True)
            thread.start()
            log.info("background worker started in the app's process")
        return _stop


def _flag(argv: list[str], name: str) -> str | None:
    """``--name value`` or ``--name=value`` from Streamlit's command line."""
    for i, arg in enumerate(argv):
        if arg == f"--{name}" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def _served_url(argv: list[str]) -> str:
    """The address Streamlit will serve on: its flags first, then .streamlit/config.toml."""
    from streamlit import config

    def option(name: str) -> str:
        # Streamlit's own order: a flag, then its STREAMLIT_SERVER_PORT-style variable, then config.toml.
        env = "STREAMLIT_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name.replace(".", "_")).upper()
        flag = _flag(argv, name)
        if flag is None:
            flag = os.environ.get(env)
        return flag if flag is not None else str(config.get_option(name) or "")

    port = option("server.port")  # a port Streamlit cannot use is its own error to report
    return app_address.served_url(option("server.address"), int(port) if port.isdigit() else 8501,
                                  option("server.baseUrlPath"))


def main(argv: list[str]) -> int:
    logs.configure(logging.INFO)
    try:
        settings = load_settings()
        logs.hide(*settings.secrets)
        runtime = Runtime.open(settings) if settings.run_worker_in_app else None
    except OutreachError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    app_address.serving_at(_served_url(argv))  # before the worker's first e-mail
    if runtime is not None:
        start_in_background(runtime)
    else:
        log.info("OUTREACH_RUN_WORKER_IN_APP is false: run `python -m outreach worker` as its own service")
    from streamlit.web import cli as streamlit_cli

    sys.argv = ["streamlit", "run", str(PROJECT_ROOT / "app.py"), *argv]
    return streamlit_cli.main()


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: the page imports
    # outreach.serve, and the once-per-process guard must be that module's, or the
    # first visitor would start a second worker.
    from outreach import serve

    sys.exit(serve.main(sys.argv[1:]))
