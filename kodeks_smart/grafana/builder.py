"""A small typed builder for Grafana dashboard JSON (schema version 39, Grafana 10–11).

Dashboards are declared in `kodeks_smart.grafana.dashboards` as `Dashboard` values and rendered here
for one datasource; nothing is hand-edited JSON. Only the parts of Grafana's model SMART uses are
modelled: SQL query variables, time series / table / stat / bar chart panels with raw SQL targets,
legends with calculations, units and thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

DATASOURCE_TYPE = "grafana-postgresql-datasource"
SCHEMA_VERSION = 39
GRID_WIDTH = 24

PanelKind = Literal["timeseries", "table", "stat", "barchart"]
QueryFormat = Literal["time_series", "table"]


@dataclass(frozen=True)
class Variable:
    """A query variable: SQL returning ``__text``/``__value`` (or one column); multi-select with All."""

    name: str
    label: str
    sql: str
    multi: bool = True
    include_all: bool = True


@dataclass(frozen=True)
class Threshold:
    """A step of the colour scale: from ``value`` upwards (None: the base step)."""

    color: str
    value: float | None = None


@dataclass(frozen=True)
class Panel:
    """One panel with one raw SQL query; ``fmt`` is Grafana's query format."""

    title: str
    kind: PanelKind
    sql: str
    fmt: QueryFormat = "time_series"
    description: str = ""
    unit: str = ""
    legend: tuple[str, ...] = ()
    thresholds: tuple[Threshold, ...] = ()
    log_scale: int | None = None
    width: int = 12
    height: int = 8


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    variables: tuple[Variable, ...]
    panels: tuple[Panel, ...]
    time_from: str = "now-30d"
    refresh: str = "1h"
    tags: tuple[str, ...] = field(default=("smart",))


def _datasource(uid: str) -> dict[str, str]:
    return {"type": DATASOURCE_TYPE, "uid": uid}


def render_variable(variable: Variable, datasource_uid: str) -> dict[str, Any]:
    return {
        "type": "query",
        "name": variable.name,
        "label": variable.label,
        "datasource": _datasource(datasource_uid),
        "query": variable.sql,
        "definition": variable.sql,
        "refresh": 2,  # on time range change: new clients appear without a reload
        "multi": variable.multi,
        "includeAll": variable.include_all,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if variable.include_all else {},
        "sort": 1,
        "hide": 0,
        "options": [],
    }


def _field_config(panel: Panel) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    if panel.unit:
        defaults["unit"] = panel.unit
    if panel.thresholds:
        defaults["thresholds"] = {
            "mode": "absolute",
            "steps": [{"color": t.color, "value": t.value} for t in panel.thresholds],
        }
        defaults["color"] = {"mode": "thresholds"}
    if panel.kind == "timeseries":
        custom: dict[str, Any] = {"drawStyle": "line", "fillOpacity": 10, "showPoints": "auto"}
        if panel.log_scale:
            custom["scaleDistribution"] = {"type": "log", "log": panel.log_scale}
        if panel.thresholds:
            custom["thresholdsStyle"] = {"mode": "area"}
        defaults["custom"] = custom
    return {"defaults": defaults, "overrides": []}


def _options(panel: Panel) -> dict[str, Any]:
    if panel.kind in ("timeseries", "barchart"):
        return {
            "legend": {
                "showLegend": True,
                "displayMode": "table",
                "placement": "right",
                "calcs": list(panel.legend),
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    if panel.kind == "table":
        return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    return {"reduceOptions": {"calcs": ["lastNotNull"], "values": False}, "colorMode": "background"}


def render_panel(panel: Panel, panel_id: int, x: int, y: int, datasource_uid: str) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "datasource": _datasource(datasource_uid),
        "targets": [
            {
                "refId": "A",
                "datasource": _datasource(datasource_uid),
                "editorMode": "code",
                "rawQuery": True,
                "format": panel.fmt,
                "rawSql": panel.sql,
            }
        ],
        "fieldConfig": _field_config(panel),
        "options": _options(panel),
    }


def render(dashboard: Dashboard, datasource_uid: str, *, uid_suffix: str = "") -> dict[str, Any]:
    """The dashboard's JSON model bound to one datasource; panels flow left to right, top to bottom."""
    panels = []
    x = y = row_height = 0
    for number, panel in enumerate(dashboard.panels, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        panels.append(render_panel(panel, number, x, y, datasource_uid))
        x += panel.width
        row_height = max(row_height, panel.height)
    return {
        "uid": (dashboard.uid + uid_suffix)[:40],
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": list(dashboard.tags),
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": dashboard.time_from, "to": "now"},
        "refresh": dashboard.refresh,
        "templating": {"list": [render_variable(v, datasource_uid) for v in dashboard.variables]},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }
