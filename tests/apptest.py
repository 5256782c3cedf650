"""Running the real app in-process with Streamlit's AppTest, on a test database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from outreach.settings import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")


@contextmanager
def app_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str,
                    workbook: Path) -> Iterator[None]:
    monkeypatch.setenv("OUTREACH_DATABASE_URL", database_url)
    monkeypatch.setenv("OUTREACH_WORKBOOK", str(workbook))
    monkeypatch.setenv("OUTREACH_RUN_WORKER_IN_APP", "false")
    monkeypatch.setenv("OUTREACH_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    st.cache_resource.clear()  # a fresh Runtime for this test's database
    try:
        yield
    finally:
        st.cache_resource.clear()


MANAGER = "maya.chen@example.com"  # the demo team's manager


def open_app(page: str | None = None, timeout: float = 30, as_email: str | None = None) -> AppTest:
    """The app as the demo's first rep, or as ``as_email`` (picked in the demo sidebar)."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    if as_email:
        at.selectbox(key="demo_rep").set_value(as_email).run()
    if page:
        at.switch_page(f"outreach/ui/pages/{page}").run()
    return at
