"""Settings: sources, validation with named errors, masking, and documentation of every setting."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from kodeks_smart.config import ConfigError, Settings, mask_url

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_the_embedded_setup() -> None:
    s = Settings.load(env={}, toml_path=Path("/nonexistent/smart.toml"))
    assert s.database_url == "sqlite:///var/smart.db"
    assert s.data_dir == "var" and s.secret_key_file == "var/secret.key"
    assert (s.host, s.port) == ("127.0.0.1", 8080)
    assert s.effective_public_url == "http://127.0.0.1:8080"


def test_environment_wins_over_the_toml_file(tmp_path: Path) -> None:
    toml = tmp_path / "smart.toml"
    toml.write_text('port = 9000\nhost = "0.0.0.0"\nlog_format = "text"\n')
    s = Settings.load(env={"SMART_PORT": "9100"}, toml_path=toml)
    assert s.port == 9100 and s.host == "0.0.0.0" and s.log_format == "text"
    assert s.effective_public_url == "http://127.0.0.1:9100"


def test_a_secret_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "db-url"
    secret.write_text("postgresql://smart:pw@db/smart\n")
    s = Settings.load(env={"SMART_DATABASE_URL_FILE": str(secret)}, toml_path=tmp_path / "none.toml")
    assert s.database_url == "postgresql://smart:pw@db/smart"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SMART_PORT": "eighty"}, "SMART_PORT"),
        ({"SMART_PORT": "70000"}, "SMART_PORT"),
        ({"SMART_AUTO_MIGRATE": "perhaps"}, "SMART_AUTO_MIGRATE"),
        ({"SMART_DATABASE_URL": "mysql://x"}, "SMART_DATABASE_URL"),
        ({"SMART_LOG_FORMAT": "xml"}, "SMART_LOG_FORMAT"),
    ],
)
def test_a_bad_value_is_refused_with_the_setting_named(
    env: dict[str, str], named: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.load(env=env, toml_path=tmp_path / "none.toml")


def test_an_unknown_key_in_the_toml_file_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "smart.toml"
    toml.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        Settings.load(env={}, toml_path=toml)


def test_describe_masks_the_database_password() -> None:
    s = Settings.from_values({"database_url": "postgresql://smart:hunter2@db:5432/smart"})
    shown = dict((name, value) for name, value, _ in s.describe())
    assert shown["SMART_DATABASE_URL"] == "postgresql://smart:***@db:5432/smart"
    assert "hunter2" not in str(s.describe())
    assert mask_url("sqlite:///var/smart.db") == "sqlite:///var/smart.db"


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [f"SMART_{f.name.upper()}" for f in fields(Settings) if f"SMART_{f.name.upper()}" not in doc]
    assert missing == []
