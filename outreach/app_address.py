"""The address e-mail links point at, so a link in a reminder opens the app that sent it.

First hit wins: ``OUTREACH_APP_URL`` (the deployment knows its public name best), the sheet's
App URL, the address this process serves the app on (``make run PORT=8611`` gives
``http://localhost:8611``), and last the Streamlit default.

The served address is the process's own, like its logging set-up: the server's launcher
records it once (:func:`serving_at`) and every e-mail made in that process, by the page or
by the worker inside it, uses it. A worker running as its own process has none, and uses
the sheet's or OUTREACH_APP_URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT = "http://localhost:8501"
SERVED, DEFAULT_SOURCE = "the address this server runs on", "the default"  # where a URL came from
# A server bound to every interface is reached by its machine's name, which only the deployment
# knows: a browser on this machine still finds it at localhost.
_WILDCARDS = {"", "0.0.0.0", "::", "[::]"}

_explicit = ""
_served = ""


@dataclass(frozen=True)
class AppAddress:
    url: str
    source: str  # where it came from, for the Data status page


def parse_url(raw: str) -> str:
    url = raw.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        raise ValueError("expected a web address starting with https://")
    return url


def configure(explicit: str) -> None:
    """OUTREACH_APP_URL, as the process's settings read it ("" when unset)."""
    global _explicit
    _explicit = explicit.strip().rstrip("/")


def serving_at(url: str) -> None:
    global _served
    _served = url.rstrip("/")


def served_url(address: str, port: int, base_path: str = "") -> str:
    """The browser's address of a Streamlit server bound to ``address``:``port``."""
    host = "localhost" if address.strip() in _WILDCARDS else address.strip()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    base = "/".join(part for part in base_path.split("/") if part)
    return f"http://{host}:{port}" + (f"/{base}" if base else "")


def resolve(sheet_url: str) -> AppAddress:
    if _explicit:
        return AppAddress(_explicit, "OUTREACH_APP_URL")
    if sheet_url:
        return AppAddress(sheet_url, "the App URL in the sheet's Settings tab")
    if _served:
        return AppAddress(_served, SERVED)
    return AppAddress(DEFAULT, DEFAULT_SOURCE)
