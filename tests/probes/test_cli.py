"""`smart probe ID`: all checks of one installation (or online access) now, as a table, nothing stored."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.simulator import SimulatorThread
from kodeks_smart.store import admin, migrate
from kodeks_smart.store.db import Database
from kodeks_smart.store.probe_models import ProbeCheck
from tests.live import smart_env
from tests.probes.helpers import register_installation, register_online


def smart(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kodeks_smart", *args],
        capture_output=True,
        text=True,
        env={**smart_env(home, 8080), "COLUMNS": "250"},
        cwd=home,
        timeout=120,
        check=False,
    )


def registered(home: Path, sim: SimulatorThread) -> tuple[Database, int, int]:
    db = Database(f"sqlite:///{home}/smart.db")
    migrate.upgrade(db)
    box = SecretBox.from_file(home / "secret.key", create=True)
    with db.write() as s:
        dealer, _token = admin.add_dealer(s, "0599ROGAIKOPITA", "Рога и копыта")
        cabinet_id = admin.add_cabinet(s, dealer.code, "Филиал А").id
    inst = register_installation(db, box, sim, cabinet_id, client_name="client00000")
    access = register_online(db, box, sim, cabinet_id)
    return db, inst, access


def test_the_engineer_sees_every_check_and_the_abnormal_state(tmp_path: Path, sim: SimulatorThread) -> None:
    db, inst, _access = registered(tmp_path, sim)
    sim.set_state(0, mode="maintenance")
    result = smart(tmp_path, "probe", str(inst))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"Инсталляция {inst}: client00000" in out
    for check in ("icmp", "tcp", "http200", "maintenance", "auth", "licman_tcp"):
        assert check in out
    assert "ожидаемый отказ" in out
    assert "Нештатное состояние: Режим обслуживания (код 503)" in out
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ProbeCheck)) == 0
    assert sim.describe(0)["sessions"] == 0


def test_the_engineer_sees_the_billing_of_an_online_access(tmp_path: Path, sim: SimulatorThread) -> None:
    _db, _inst, access = registered(tmp_path, sim)
    result = smart(tmp_path, "probe", "--online", str(access))
    assert result.returncode == 0, result.stderr
    assert "вход выполнен, биллинг прочитан" in result.stdout
    assert "документы" in result.stdout


def test_an_unknown_installation_is_an_error_in_russian(tmp_path: Path, sim: SimulatorThread) -> None:
    registered(tmp_path, sim)
    result = smart(tmp_path, "probe", "999")
    assert result.returncode == 2
    assert "инсталляция 999 не найдена" in result.stderr
