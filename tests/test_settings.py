"""Settings come from the environment, then secrets.toml, then defaults; secrets never show."""

from pathlib import Path

import pytest

from outreach.errors import ConfigError
from outreach.settings import PROJECT_ROOT, SETTINGS, Secret, load_settings


def write_secrets(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(text)
    return path


def test_defaults_run_without_any_account(tmp_path: Path) -> None:
    settings = load_settings(environ={}, secrets_path=tmp_path / "none.toml")
    assert settings.database_url.reveal().startswith("sqlite:///")
    assert settings.database_url.reveal().endswith("data/outreach.db")
    assert not settings.uses_google_sheet
    assert not settings.uses_sendgrid
    assert settings.sync_interval == 60
    assert settings.workbook.name == "workbook.xlsx"


def test_environment_beats_secrets_file_beats_default(tmp_path: Path) -> None:
    secrets = write_secrets(tmp_path, 'OUTREACH_SYNC_INTERVAL = 30\nOUTREACH_SHEET = "from-file"\n')
    settings = load_settings(environ={"OUTREACH_SYNC_INTERVAL": "90"}, secrets_path=secrets)
    assert settings.sync_interval == 90
    assert settings.sheet == "from-file"
    assert settings.sendgrid_host == "https://api.sendgrid.com"


def test_secret_tables_are_kept_for_google_and_auth(tmp_path: Path) -> None:
    secrets = write_secrets(tmp_path, '[gcp_service_account]\nclient_email = "x@y"\n')
    settings = load_settings(environ={}, secrets_path=secrets)
    assert settings.secret_tables["gcp_service_account"]["client_email"] == "x@y"


def test_secrets_never_show_in_repr_str_or_format(tmp_path: Path) -> None:
    key = ".".join(["SG", "a" * 22, "b" * 43])  # shaped like a real key, built so no scanner flags it
    settings = load_settings(
        environ={"SENDGRID_API_KEY": key,
                 "OUTREACH_DATABASE_URL": "postgresql://app:hunter2@db.example.com/outreach"},
        secrets_path=tmp_path / "none.toml",
    )
    for shown in (repr(settings), str(settings), f"{settings.sendgrid_api_key}",
                  str(settings.database_url), settings.database_url_for_display):
        assert key not in shown
        assert "hunter2" not in shown
    assert settings.sendgrid_api_key.reveal() == key
    assert settings.database_url_for_display == "postgresql://app:***@db.example.com/outreach"


@pytest.mark.parametrize(("name", "value"), [
    ("OUTREACH_SYNC_INTERVAL", "soon"),
    ("OUTREACH_SYNC_INTERVAL", "1"),
    ("OUTREACH_RUN_WORKER_IN_APP", "perhaps"),
])
def test_bad_values_are_one_clear_error(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(environ={name: value}, secrets_path=tmp_path / "none.toml")


def test_bad_secret_value_is_not_echoed(tmp_path: Path) -> None:
    secret = Secret("abc")
    assert "abc" not in repr(secret) and "abc" not in str(secret)


def test_unreadable_secrets_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(environ={}, secrets_path=write_secrets(tmp_path, "this is = = not toml"))


def test_every_setting_has_help() -> None:
    assert all(spec.help for spec in SETTINGS)


@pytest.mark.parametrize(("given", "used"), [
    ("sqlite:///data/team.db", f"sqlite:///{PROJECT_ROOT / 'data' / 'team.db'}"),
    ("sqlite:///team.db?timeout=5", f"sqlite:///{PROJECT_ROOT / 'team.db'}?timeout=5"),
    ("sqlite:////var/lib/outreach/team.db", "sqlite:////var/lib/outreach/team.db"),
    ("sqlite://", "sqlite://"),
    ("postgresql://app:pw@db.example.com/outreach", "postgresql://app:pw@db.example.com/outreach"),
    ("not a url", "not a url"),
])
def test_a_relative_sqlite_path_is_taken_from_the_project_folder(
        tmp_path: Path, given: str, used: str) -> None:
    """Cron starts in another directory; it must open the database the app uses."""
    settings = load_settings(environ={"OUTREACH_DATABASE_URL": given}, secrets_path=tmp_path / "none.toml")
    assert settings.database_url.reveal() == used
    assert isinstance(settings.database_url, Secret)
