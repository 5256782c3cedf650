"""The app's per-process runtime and its background worker.

``st.cache_resource`` makes one of each per Streamlit server process, shared by
every browser session. A code reload or cache clear can start a second worker
while the first still runs; the database lease makes that harmless.
"""

from __future__ import annotations

import logging
import threading

import streamlit as st

from outreach.runtime import Runtime
from outreach.settings import load_settings
from outreach.worker import Worker

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def get_runtime() -> Runtime:
    return Runtime.open(load_settings())


@st.cache_resource(show_spinner=False)
def start_background_worker() -> threading.Event | None:
    """Start the in-app worker once per process; production runs `python -m outreach worker`."""
    runtime = get_runtime()
    if not runtime.settings.run_worker_in_app:
        return None
    stop = threading.Event()
    worker = Worker(runtime)
    thread = threading.Thread(target=worker.run_forever, args=(stop,), name="outreach-worker",
                              daemon=True)
    thread.start()
    return stop
