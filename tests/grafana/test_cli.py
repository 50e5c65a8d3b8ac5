"""`smart grafana roles` and `smart grafana provision`, run as real processes."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from kodeks_smart.store.db import Database
from tests.conftest import Tenants
from tests.grafana.conftest import drop_roles
from tests.live import smart_env


def smart(home: Path, *args: str, db_url: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kodeks_smart", "grafana", *args],
        capture_output=True,
        text=True,
        env={**smart_env(home, 8080, db_url), "COLUMNS": "250"},
        cwd=home,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", [["roles"], ["provision", "--out", "out"]])
def test_grafana_commands_explain_that_they_need_postgresql(tmp_path: Path, command: list[str]) -> None:
    result = smart(tmp_path, *command)
    assert result.returncode == 2
    assert "Grafana требует PostgreSQL" in result.stderr
    assert not (tmp_path / "out").exists()


def _roles_named(db: Database, prefix: str) -> set[str]:
    with db.engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"), {"p": prefix + "%"}
            ).scalars()
        )


@pytest.mark.postgres
def test_roles_dry_run_then_create_then_provision(
    db: Database, tenants: Tenants, role_prefix: str, tmp_path: Path
) -> None:
    a = str(tenants.cabinet_a)
    common = ("--cabinet", a, "--role-prefix", role_prefix)
    try:
        dry = smart(tmp_path, "roles", "--dry-run", *common, db_url=db.url)
        assert dry.returncode == 0, dry.stderr
        assert "ENABLE ROW LEVEL SECURITY" in dry.stdout
        assert "PASSWORD '***'" in dry.stdout
        assert _roles_named(db, role_prefix) == set()

        created = smart(tmp_path, "roles", *common, "--secrets-dir", "secrets", db_url=db.url)
        assert created.returncode == 0, created.stderr
        role = role_prefix + a
        assert _roles_named(db, role_prefix) == {role}
        secret = tmp_path / "secrets" / f"{role}.password"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        password = secret.read_text(encoding="utf-8")
        assert len(password) >= 24 and password not in created.stdout

        again = smart(tmp_path, "roles", *common, "--secrets-dir", "secrets", db_url=db.url)
        assert again.returncode == 0, again.stderr
        assert "без изменений" in again.stdout
        assert secret.read_text(encoding="utf-8") == password

        out = smart(tmp_path, "provision", "--out", "out", "--db-host", "postgres", *common, db_url=db.url)
        assert out.returncode == 0, out.stderr
        datasource = (tmp_path / "out/provisioning/datasources" / f"smart-cabinet-{a}.yaml").read_text(
            encoding="utf-8"
        )
        assert f'user: "{role}"' in datasource and "postgres:" in datasource
        assert password not in datasource
        assert len(list((tmp_path / "out/dashboards" / f"cabinet-{a}").glob("*.json"))) >= 8

        unknown = smart(tmp_path, "provision", "--out", "out", "--cabinet", "999999", db_url=db.url)
        assert unknown.returncode == 2 and "нет кабинетов с id 999999" in unknown.stderr
    finally:
        drop_roles(db, sorted(_roles_named(db, role_prefix)))
