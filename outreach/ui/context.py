"""The app's per-process runtime and its background worker.

``st.cache_resource`` makes one of each per Streamlit server process, shared by
every browser session. A code reload or cache clear can start a second worker
while the first still runs; the database lease makes that harmless.
"""

from __future__ import annotations

import logging
import threading

import streamlit as st

from outreach import app_address
from outreach.runtime import Runtime
from outreach.serve import start_in_background
from outreach.settings import load_settings

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def get_runtime() -> Runtime:
    # `streamlit run app.py` without our launcher: the page knows where it is served, too.
    app_address.serving_at(app_address.served_url(str(st.get_option("server.address") or ""),
                                                  int(st.get_option("server.port")),
                                                  str(st.get_option("server.baseUrlPath") or "")))
    return Runtime.open(load_settings())


@st.cache_resource(show_spinner=False)
def start_background_worker() -> threading.Event | None:
    """The in-app worker, once per process (`make run` started it already, before any visitor).

    Production runs `python -m outreach worker` as its own service instead.
    """
    runtime = get_runtime()
    if not runtime.settings.run_worker_in_app:
        return None
    return start_in_background(runtime)
