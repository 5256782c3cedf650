"""Deployment settings: where the data lives and which outside services to use.

Read in this order, first hit wins:

1. the environment (``OUTREACH_*``, plus ``SENDGRID_API_KEY`` and
   ``GOOGLE_SERVICE_ACCOUNT_FILE`` under the names their vendors use);
2. ``.streamlit/secrets.toml`` - Streamlit's convention, so the app and a
   separately started worker read one file; keys are the same names;
3. the defaults below, which run the whole product with no accounts.

Team rules a manager owns (call-list time, business hours, ...) are *not* here:
they come from the sheet's Settings tab (see ``team_settings``).

Every setting is declared once in ``SETTINGS``; the README's table is checked
against it by ``tests/test_docs.py``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from outreach.app_address import parse_url
from outreach.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Secret(str):
    """A string that never shows itself in logs, tracebacks or the page."""

    def __repr__(self) -> str:
        return "Secret('********')" if self else "Secret('')"

    def reveal(self) -> str:
        return str.__str__(self)

    def __str__(self) -> str:
        return "********" if self else ""


@dataclass(frozen=True)
class SettingSpec:
    name: str
    kind: type
    default: Any
    help: str
    secret: bool = False


def _default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'data' / 'outreach.db'}"


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("OUTREACH_DATABASE_URL", str, None,
                "SQLAlchemy URL. Default: a SQLite file in `data/`; a relative SQLite path is "
                "taken from the project folder. Use `postgresql://user:pass@host/db` when several "
                "app or worker processes run.",
                secret=True),
    SettingSpec("OUTREACH_SHEET", str, "",
                "Google Sheet URL or key. Empty: use the local workbook instead."),
    SettingSpec("GOOGLE_SERVICE_ACCOUNT_FILE", str, "",
                "Path to a service-account JSON key for the sheet (or put a "
                "`[gcp_service_account]` table in secrets.toml)."),
    SettingSpec("OUTREACH_WORKBOOK", str, "data/workbook.xlsx",
                "Local .xlsx with the same tabs as the sheet; used when no sheet is set. "
                "Created from the demo workbook on first run."),
    SettingSpec("SENDGRID_API_KEY", str, "",
                "SendGrid key with Mail Send permission. Empty: e-mails go to the embedded "
                "outbox shown in the app.", secret=True),
    SettingSpec("OUTREACH_SENDGRID_HOST", str, "https://api.sendgrid.com",
                "SendGrid API host (`https://api.eu.sendgrid.com` for EU accounts)."),
    SettingSpec("OUTREACH_SENDGRID_SANDBOX", bool, False,
                "SendGrid sandbox mode for staging: accepted, never delivered."),
    SettingSpec("OUTREACH_SYNC_INTERVAL", int, 60,
                "Seconds between sheet syncs by the worker."),
    SettingSpec("OUTREACH_INBOUND_INTERVAL", int, 10,
                "Seconds between reads of the Inbound tab alone (one small request), so a web form's "
                "row is a lead within seconds while the full sync stays at OUTREACH_SYNC_INTERVAL; "
                "0 turns it off."),
    SettingSpec("OUTREACH_APP_URL", str, "",
                "Address of the app in e-mail links (`https://outreach.example.com`); overrides the "
                "sheet's App URL. Empty: the sheet's, else the address the server runs on "
                "(`make run PORT=8611` links to `http://localhost:8611`)."),
    SettingSpec("OUTREACH_RUN_WORKER_IN_APP", bool, True,
                "Run the background worker inside the Streamlit server. Set to false when "
                "`python -m outreach worker` runs as its own process."),
    SettingSpec("OUTREACH_ALLOW_DEMO_AUTH", bool, False,
                "Allow the demo rep picker when the server is not bound to localhost "
                "(never in production)."),
    SettingSpec("OUTREACH_LOG_LEVEL", str, "INFO", "Logging level of the worker and CLI."),
)

_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off", ""}


def parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected yes/no, got {raw!r}")


def anchored_database_url(raw: str) -> str:
    """A relative SQLite path is taken from the project folder, like OUTREACH_WORKBOOK.

    So cron, the worker and the app open the same file whatever directory they start in.
    """
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        return raw  # Database reports an unusable URL with one clear line
    path = url.database or ""
    if (url.get_backend_name() != "sqlite" or path in ("", ":memory:") or Path(path).is_absolute()
            or url.query.get("uri")):  # a file: URI is passed to SQLite as written
        return raw
    return url.set(database=str(PROJECT_ROOT / path)).render_as_string(hide_password=False)


def _coerce(spec: SettingSpec, raw: Any) -> Any:
    try:
        if spec.kind is bool:
            value: Any = parse_bool(raw)
        elif spec.kind is int:
            value = int(str(raw).strip())
        else:
            value = str(raw).strip()
    except ValueError as exc:
        shown = "********" if spec.secret else repr(raw)
        raise ConfigError(f"setting {spec.name}: {shown} is not valid ({exc})") from None
    return Secret(value) if spec.secret else value


def _app_url(raw: str) -> str:
    try:
        return parse_url(raw) if raw else ""
    except ValueError as exc:
        raise ConfigError(f"setting OUTREACH_APP_URL: {raw!r} is not valid ({exc})") from None


def read_secrets_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


@dataclass(frozen=True)
class Settings:
    database_url: Secret
    sheet: str
    google_service_account_file: str
    workbook: Path
    sendgrid_api_key: Secret
    sendgrid_host: str
    sendgrid_sandbox: bool
    sync_interval: int
    inbound_interval: int
    app_url: str
    run_worker_in_app: bool
    allow_demo_auth: bool
    log_level: str
    # Tables from secrets.toml that are not plain settings ([gcp_service_account], [auth]).
    secret_tables: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def database_url_for_display(self) -> str:
        """The URL with its password masked, safe for logs and the page."""
        return masked_database_url(self.database_url.reveal())

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value this process holds, for the log filter to mask wherever it turns up."""
        tables = [str(value) for table in self.secret_tables.values() if isinstance(table, Mapping)
                  for name, value in table.items() if _SECRET_NAME.search(str(name))]
        return (self.sendgrid_api_key.reveal(), *database_passwords(self.database_url.reveal()), *tables)

    @property
    def uses_google_sheet(self) -> bool:
        return bool(self.sheet)

    @property
    def uses_sendgrid(self) -> bool:
        return bool(self.sendgrid_api_key)


_SECRET_NAME = re.compile(r"(?i)secret|key|password|token")


def masked_database_url(url: str | URL) -> str:
    """The URL with its password masked.

    A password with an unencoded '@' ("p@ss") makes SQLAlchemy read the rest of it as the host
    ("ss@127.0.0.1"), which ``hide_password`` leaves in plain sight: that residue is masked too.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
        host = parsed.host or ""
        if "@" in host:
            parsed = parsed.set(host=host.rpartition("@")[2], password=parsed.password or "residue")
        if "password" in parsed.query:  # psycopg also takes ?password=...
            parsed = parsed.update_query_dict({"password": "***"})
        return parsed.render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is reported elsewhere; never echo it
        return "(unparseable database URL)"


def database_passwords(raw: str) -> tuple[str, ...]:
    """The URL's password as written, as decoded, and as SQLAlchemy reads it (all may differ)."""
    authority = raw.partition("://")[2].split("?")[0]
    userinfo, at, _ = authority.rpartition("@")  # the last '@': a password may hold one unencoded
    written = userinfo.partition(":")[2] if at else ""
    try:
        url = make_url(raw)
    except Exception:
        url = None
    parsed = [] if url is None else [str(url.password or ""), *url.normalized_query.get("password", ())]
    return tuple(dict.fromkeys(p for p in (written, unquote(written), *parsed) if p))


def load_settings(
    environ: Mapping[str, str] | None = None,
    secrets_path: Path | None = None,
) -> Settings:
    """Build the settings from the environment, the secrets file and defaults."""
    environ = os.environ if environ is None else environ
    if secrets_path is None:
        # OUTREACH_SECRETS_FILE lets tests (and odd deployments) point elsewhere.
        secrets_path = Path(environ.get("OUTREACH_SECRETS_FILE")
                            or PROJECT_ROOT / ".streamlit" / "secrets.toml")
    secrets = read_secrets_file(secrets_path)
    values: dict[str, Any] = {}
    for spec in SETTINGS:
        if spec.name in environ:
            values[spec.name] = _coerce(spec, environ[spec.name])
        elif spec.name in secrets and not isinstance(secrets[spec.name], dict):
            values[spec.name] = _coerce(spec, secrets[spec.name])
        else:
            default = spec.default if spec.default is not None else _default_database_url()
            values[spec.name] = Secret(default) if spec.secret else default
    workbook = Path(values["OUTREACH_WORKBOOK"])
    if not workbook.is_absolute():
        workbook = PROJECT_ROOT / workbook
    if values["OUTREACH_SYNC_INTERVAL"] < 5:
        raise ConfigError("setting OUTREACH_SYNC_INTERVAL: must be at least 5 seconds")
    if values["OUTREACH_INBOUND_INTERVAL"] not in (0, *range(2, 3601)):
        raise ConfigError("setting OUTREACH_INBOUND_INTERVAL: must be 0 (off) or 2 to 3600 seconds")
    return Settings(
        database_url=Secret(anchored_database_url(values["OUTREACH_DATABASE_URL"].reveal())),
        sheet=values["OUTREACH_SHEET"],
        google_service_account_file=values["GOOGLE_SERVICE_ACCOUNT_FILE"],
        workbook=workbook,
        sendgrid_api_key=values["SENDGRID_API_KEY"],
        sendgrid_host=values["OUTREACH_SENDGRID_HOST"].rstrip("/"),
        sendgrid_sandbox=values["OUTREACH_SENDGRID_SANDBOX"],
        sync_interval=values["OUTREACH_SYNC_INTERVAL"],
        inbound_interval=values["OUTREACH_INBOUND_INTERVAL"],
        app_url=_app_url(values["OUTREACH_APP_URL"]),
        run_worker_in_app=values["OUTREACH_RUN_WORKER_IN_APP"],
        allow_demo_auth=values["OUTREACH_ALLOW_DEMO_AUTH"],
        log_level=values["OUTREACH_LOG_LEVEL"].upper(),
        secret_tables={k: v for k, v in secrets.items() if isinstance(v, dict)},
    )
