"""No log line shows a secret: a key, a bearer token or a password, in the message or its traceback."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator

import pytest

from outreach import logs


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose one handler redacts, as the handlers ``logs.configure`` installs do."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(logs.FORMAT))
    handler.addFilter(logs.Redact())
    logger = logging.getLogger(f"test-logs-{uuid.uuid4().hex[:6]}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_what_python_http_client_logs_at_debug_is_masked(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    key = f"SG.{uuid.uuid4().hex[:22]}.{uuid.uuid4().hex}"
    logger.debug("HEADERS: %s", {"Authorization": f"Bearer {key}", "Accept": "application/json"})
    logger.debug("token %s", f"Bearer {uuid.uuid4().hex}")
    written = stream.getvalue()
    assert key not in written and key[-12:] not in written
    assert "Bearer ********" in written and "application/json" in written


def test_a_known_secret_is_masked_wherever_it_appears(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    password = f"pw-{uuid.uuid4().hex[:10]}"
    logs.hide(password, "ab")  # too short to mask without masking ordinary words
    logger.warning("could not log in with %s", password)
    assert password not in stream.getvalue() and "could not log in with ********" in stream.getvalue()
    assert logs.redact("about") == "about"


def test_a_url_password_is_masked_up_to_the_last_at(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    logger.error("cannot open postgresql://app:s3cr@tZq7x@db.internal:5432/outreach")
    assert stream.getvalue().endswith("cannot open postgresql://app:********@db.internal:5432/outreach\n")


def test_a_traceback_is_masked_too(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    key = f"SG.{uuid.uuid4().hex}"
    try:
        raise RuntimeError(f"refused Bearer {key}")
    except RuntimeError:
        logger.exception("send failed")
    written = stream.getvalue()
    assert "Traceback" in written and "RuntimeError: refused Bearer ********" in written
    assert key not in written
