"""Provisioning files: structure, datasource per cabinet, no plaintext password, dashboards bound to it."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kodeks_smart.grafana.builder import GRID_WIDTH, render
from kodeks_smart.grafana.dashboards import DASHBOARDS
from kodeks_smart.grafana.provision import CabinetTarget, Connection, provision, to_yaml
from kodeks_smart.store import rls
from kodeks_smart.store.models import Base

TARGETS = [
    CabinetTarget(7, 1, "0599ROGAIKOPITA", "Филиал «А»", "smart_cab_7"),
    CabinetTarget(8, 1, "0599ROGAIKOPITA", 'Филиал "Б"', "smart_cab_8"),
]
CONN = Connection("postgres", 5432, "smart", "disable")


def test_provision_writes_a_datasource_a_folder_and_every_dashboard_per_cabinet(tmp_path: Path) -> None:
    written = provision(
        tmp_path,
        TARGETS,
        CONN,
        secrets_path="/run/secrets/smart-grafana",
        grafana_url="https://g.example.ru/",
    )
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    for target in TARGETS:
        n = target.cabinet_id
        assert f"provisioning/datasources/smart-cabinet-{n}.yaml" in names
        assert f"provisioning/dashboards/smart-cabinet-{n}.yaml" in names
        for dashboard in DASHBOARDS:
            assert f"dashboards/cabinet-{n}/{dashboard.uid}.json" in names
    assert "CABINETS.txt" in names
    assert "https://g.example.ru/d/smart-alerts-c7" in (tmp_path / "CABINETS.txt").read_text(encoding="utf-8")


def test_the_datasource_uses_the_cabinet_role_and_reads_its_password_from_a_file(tmp_path: Path) -> None:
    provision(tmp_path, TARGETS, CONN, secrets_path="/run/secrets/smart-grafana")
    doc = yaml.safe_load(
        (tmp_path / "provisioning/datasources/smart-cabinet-8.yaml").read_text(encoding="utf-8")
    )
    (ds,) = doc["datasources"]
    assert doc["apiVersion"] == 1
    assert ds["uid"] == "smart-pg-c8"
    assert ds["user"] == "smart_cab_8"
    assert ds["url"] == "postgres:5432"
    assert ds["jsonData"]["database"] == "smart"
    assert ds["name"] == 'SMART 0599ROGAIKOPITA — Филиал "Б"'
    assert ds["secureJsonData"] == {"password": "$__file{/run/secrets/smart-grafana/smart_cab_8.password}"}


def test_each_cabinet_gets_its_own_folder_and_its_dashboards_use_only_its_datasource(tmp_path: Path) -> None:
    provision(tmp_path, TARGETS, CONN, dashboards_path="/var/lib/smart-grafana/dashboards/")
    doc = yaml.safe_load(
        (tmp_path / "provisioning/dashboards/smart-cabinet-7.yaml").read_text(encoding="utf-8")
    )
    (provider,) = doc["providers"]
    assert provider["folder"] == "0599ROGAIKOPITA — Филиал «А»"
    assert provider["options"]["path"] == "/var/lib/smart-grafana/dashboards/cabinet-7"
    assert provider["allowUiUpdates"] is False
    for path in (tmp_path / "dashboards/cabinet-7").glob("*.json"):
        model = json.loads(path.read_text(encoding="utf-8"))
        assert model["uid"].endswith("-c7")
        uids = {p["datasource"]["uid"] for p in model["panels"]}
        uids |= {v["datasource"]["uid"] for v in model["templating"]["list"]}
        assert uids == {"smart-pg-c7"}


def test_rendered_panels_carry_raw_sql_and_do_not_overlap() -> None:
    for dashboard in DASHBOARDS:
        model = render(dashboard, "ds")
        cells: set[tuple[int, int]] = set()
        for panel in model["panels"]:
            (target,) = panel["targets"]
            assert target["rawQuery"] is True and target["rawSql"].startswith("SELECT")
            box = panel["gridPos"]
            assert box["x"] + box["w"] <= GRID_WIDTH
            area = {
                (x, y)
                for x in range(box["x"], box["x"] + box["w"])
                for y in range(box["y"], box["y"] + box["h"])
            }
            assert not cells & area, f"{dashboard.title}: {panel['title']} overlaps"
            cells |= area
        assert model["templating"]["list"], dashboard.title


def test_the_main_dashboards_of_the_spec_are_there() -> None:
    titles = {d.title for d in DASHBOARDS}
    assert {
        "Текущие аварийные ситуации",
        "Kodeks server metrics",
        "Доступность серверов",
        "Kodeks аналитика",
        "Для менеджеров",
        "Поисковые запросы",
        "Ошибки БД",
        "Загрузка sysinfo",
    } <= titles
    assert len({d.uid for d in DASHBOARDS}) == len(DASHBOARDS)


def test_the_yaml_emitter_round_trips_awkward_strings() -> None:
    value = {
        "a": ['x: "y"', "#not a comment", "", "- dash", "$__file{/a b}"],
        "b": {"c": True, "d": 1.5, "e": None},
    }
    assert yaml.safe_load(to_yaml(value)) == value


def test_secret_columns_and_private_tables_are_never_readable() -> None:
    tables = {t.name: t for t in rls.tables_of_metadata(Base.metadata)}
    assert "test_password_enc" not in tables["installations"].readable_columns()
    assert "address" in tables["installations"].readable_columns()
    assert "bot_token_enc" not in tables["telegram_chats"].readable_columns()
    assert tables["dealers"].readable_columns() == ["id", "code", "name"]
    for name in ("accounts", "web_sessions", "account_cabinets", "smtp_relays", "ingest_queue", "job_states"):
        assert tables[name].readable_columns() == [], name


def test_a_role_prefix_that_is_not_a_plain_identifier_is_refused() -> None:
    import pytest

    with pytest.raises(rls.RlsError, match="недопустимое имя роли"):
        rls.role_name(3, 'x"; DROP TABLE clients; --')
