"""Settings: environment names, steward.toml, and clear messages for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import ConfigError, load_settings

GOOD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run each test in an empty directory with none of Steward's variables set."""
    monkeypatch.chdir(tmp_path)
    for name in (
        "DATABASE_URL",
        "HOST",
        "PORT",
        "STEWARD_CONFIG",
        "STEWARD_API_TOKENS",
        "STEWARD_WEBHOOK_SECRETS",
        "SLACK_BOT_TOKEN",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_to_a_sqlite_file_and_an_api_that_accepts_nothing() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///steward.db"
    assert settings.is_sqlite
    report = "\n".join(settings.feature_report())
    assert "HTTP API: OFF" in report
    assert "Slack: off" in report


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://u:p@db.example:5432/steward",
            "postgresql+psycopg://u:p@db.example:5432/steward",
        ),
        (
            "postgresql://postgres@127.0.0.1/steward",
            "postgresql+psycopg://postgres@127.0.0.1/steward",
        ),
        ("sqlite:////var/lib/steward.db", "sqlite:////var/lib/steward.db"),
    ],
)
def test_database_urls_pick_the_driver(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    assert load_settings().database_url == expected


def test_comma_separated_secrets_and_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_WEBHOOK_SECRETS", f"{GOOD_SECRET}, {GOOD_SECRET[:-4]}AAAA")
    monkeypatch.setenv("STEWARD_API_TOKENS", "a" * 20 + ",b" + "c" * 20)
    settings = load_settings()
    assert len(settings.webhook_secrets) == 2
    assert [t.get_secret_value() for t in settings.api_tokens] == ["a" * 20, "b" + "c" * 20]
    assert "a" * 20 not in repr(settings)  # secrets never print


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "mysql://root@localhost/x", "DATABASE_URL: Value error, must be a sqlite"),
        ("STEWARD_WEBHOOK_SECRETS", "not-a-whsec", "must start with 'whsec_'"),
        ("STEWARD_WEBHOOK_SECRETS", "whsec_c2hvcnQ=", "at least 24 random bytes"),
        ("STEWARD_API_TOKENS", "changeme", "at least 16 characters"),
        ("PORT", "eighty", "PORT: Input should be a valid integer"),
    ],
)
def test_bad_values_are_named_in_one_message(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert message in str(caught.value)
    assert value not in str(caught.value) or name in ("DATABASE_URL", "PORT")


def test_steward_toml_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "steward.toml").write_text(
        'database_url = "sqlite:///from-toml.db"\nport = 9000\n\n[ingest]\nmax_items = 100\n'
    )
    monkeypatch.setenv("PORT", "9100")
    settings = load_settings()
    assert settings.database_url == "sqlite:///from-toml.db"
    assert settings.port == 9100
    assert settings.ingest.max_items == 100


def test_named_config_file_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_CONFIG", "/nonexistent/steward.toml")
    with pytest.raises(ConfigError, match="not a readable file"):
        load_settings()
