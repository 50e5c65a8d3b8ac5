"""Grafana provisioning files for SMART's cabinets.

Layout written under ``--out`` (mount ``provisioning/`` as /etc/grafana/provisioning, ``dashboards/`` and the
role password files into the Grafana container; docs/grafana.md):

    provisioning/datasources/smart-cabinet-<id>.yaml   one PostgreSQL datasource, the cabinet's role
    provisioning/dashboards/smart-cabinet-<id>.yaml    one folder "<dealer> — <cabinet>"
    dashboards/cabinet-<id>/<uid>.json                 the dashboards bound to that datasource

Passwords are never written here: a datasource reads its role's password with Grafana's
``$__file{…}`` from the file `smart grafana roles` wrote.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kodeks_smart.grafana.builder import DATASOURCE_TYPE, render
from kodeks_smart.grafana.dashboards import DASHBOARDS

DEFAULT_SECRETS_PATH = "/run/secrets/smart-grafana"
DEFAULT_DASHBOARDS_PATH = "/var/lib/smart-grafana/dashboards"


@dataclass(frozen=True)
class CabinetTarget:
    cabinet_id: int
    dealer_id: int
    dealer_code: str
    cabinet_name: str
    role: str

    @property
    def datasource_uid(self) -> str:
        return f"smart-pg-c{self.cabinet_id}"

    @property
    def folder(self) -> str:
        return f"{self.dealer_code} — {self.cabinet_name}"


@dataclass(frozen=True)
class Connection:
    """Where Grafana reaches SMART's PostgreSQL (often another host name than SMART uses)."""

    host: str
    port: int
    database: str
    sslmode: str = "prefer"


def password_file(directory: Path | str, role: str) -> str:
    return f"{str(directory).rstrip('/')}/{role}.password"


def to_yaml(value: Any, indent: int = 0) -> str:
    """A small YAML emitter for provisioning files: maps, lists, strings (JSON-quoted), numbers, bools."""
    pad = "  " * indent
    if isinstance(value, Mapping):
        lines = []
        for key, item in value.items():
            if isinstance(item, Mapping | list) and item:
                lines.append(f"{pad}{key}:\n{to_yaml(item, indent + 1)}")
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, Mapping) and item:
                body = to_yaml(item, indent + 1)
                lines.append(f"{pad}- {body.lstrip()}")
            else:
                lines.append(f"{pad}- {_scalar(item)}")
        return "\n".join(lines)
    return pad + _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return json.dumps(str(value), ensure_ascii=False)


def datasource(target: CabinetTarget, conn: Connection, secrets_path: str, org_id: int) -> dict[str, Any]:
    return {
        "name": f"SMART {target.folder}",
        "uid": target.datasource_uid,
        "type": DATASOURCE_TYPE,
        "orgId": org_id,
        "access": "proxy",
        "url": f"{conn.host}:{conn.port}",
        "user": target.role,
        "editable": False,
        "isDefault": False,
        "jsonData": {
            "database": conn.database,
            "sslmode": conn.sslmode,
            "postgresVersion": 1500,
            "timescaledb": False,
            "maxOpenConns": 5,
            "maxIdleConns": 2,
        },
        "secureJsonData": {"password": "$__file{" + password_file(secrets_path, target.role) + "}"},
    }


def dashboard_provider(target: CabinetTarget, dashboards_path: str, org_id: int) -> dict[str, Any]:
    return {
        "name": f"smart-cabinet-{target.cabinet_id}",
        "orgId": org_id,
        "folder": target.folder,
        "folderUid": f"smart-c{target.cabinet_id}",
        "type": "file",
        "disableDeletion": True,
        "allowUiUpdates": False,
        "updateIntervalSeconds": 60,
        "options": {"path": f"{dashboards_path.rstrip('/')}/cabinet-{target.cabinet_id}"},
    }


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)


def provision(
    out: Path,
    targets: Sequence[CabinetTarget],
    conn: Connection,
    *,
    secrets_path: str = DEFAULT_SECRETS_PATH,
    dashboards_path: str = DEFAULT_DASHBOARDS_PATH,
    org_id: int = 1,
    grafana_url: str | None = None,
) -> list[Path]:
    """Write every file for ``targets``; returns the paths written (existing files are replaced)."""
    written: list[Path] = []
    for target in targets:
        ds = out / "provisioning" / "datasources" / f"smart-cabinet-{target.cabinet_id}.yaml"
        _write(
            ds,
            "# Generated by `smart grafana provision`; do not edit.\n"
            + to_yaml({"apiVersion": 1, "datasources": [datasource(target, conn, secrets_path, org_id)]})
            + "\n",
        )
        provider = out / "provisioning" / "dashboards" / f"smart-cabinet-{target.cabinet_id}.yaml"
        _write(
            provider,
            "# Generated by `smart grafana provision`; do not edit.\n"
            + to_yaml({"apiVersion": 1, "providers": [dashboard_provider(target, dashboards_path, org_id)]})
            + "\n",
        )
        written += [ds, provider]
        for dashboard in DASHBOARDS:
            model = render(dashboard, target.datasource_uid, uid_suffix=f"-c{target.cabinet_id}")
            path = out / "dashboards" / f"cabinet-{target.cabinet_id}" / f"{dashboard.uid}.json"
            _write(path, json.dumps(model, ensure_ascii=False, indent=2) + "\n")
            written.append(path)
    if grafana_url:
        readme = out / "CABINETS.txt"
        _write(readme, cabinet_links(targets, grafana_url))
        written.append(readme)
    return written


def cabinet_links(targets: Iterable[CabinetTarget], grafana_url: str) -> str:
    """Per cabinet: its folder, role and the address of each dashboard (for the operator's letters)."""
    base = grafana_url.rstrip("/")
    lines = []
    for target in targets:
        lines.append(f"{target.folder} (роль {target.role})")
        for dashboard in DASHBOARDS:
            lines.append(f"  {dashboard.title}: {base}/d/{dashboard.uid}-c{target.cabinet_id}")
        lines.append("")
    return "\n".join(lines)
