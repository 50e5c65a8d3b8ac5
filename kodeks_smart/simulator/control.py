"""Control API of the simulator: switch states at run time over HTTP, plus a Python client.

Endpoints (JSON in and out; see docs/simulator.md for curl examples):

==========================================================  =============================================
``GET  /api/health``                                        liveness and a summary
``GET  /api/states``                                        the switchable states and their markers
``GET  /api/installations?offset=0&limit=100``              installations (id, client, url, mode)
``GET  /api/installations/{ref}``                           one installation: config, counters, state
``POST /api/installations/{ref}/state``                     apply a state patch, e.g. ``{"mode": "down"}``
``POST /api/installations/{ref}/reset``                     everything back to normal, sessions closed
``POST /api/installations/{ref}/sessions/clear``            log every user out (frees the seats)
``POST /api/state``                                         one patch for many: ``{"ids": [..] | "all": true,
                                                            "set": {...}}``
``GET  /api/online``, ``GET /api/online/{ref}``             online accesses
``POST /api/online/{ref}/state``, ``POST …/reset``          switch an online access
==========================================================  =============================================

``{ref}`` is an index (``0``) or a name (``client00000``, ``online00000``). ``PATCH`` works wherever
``POST …/state`` does.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Self

import httpx

from kodeks_smart.simulator.http import Request, Response
from kodeks_smart.simulator.state import (
    BILLING_KINDS,
    INSTALLATION_FIELDS,
    KEY_ERRORS,
    ONLINE_FIELDS,
    Mode,
    SearchMode,
    SimulatorError,
    StateError,
)

if TYPE_CHECKING:
    from kodeks_smart.simulator.core import Simulator


# The switchable states, with the markers a monitor sees; served at /api/states and mirrored in the docs.
STATE_CATALOGUE: list[dict[str, Any]] = [
    {"switch": {"mode": "normal"}, "markers": "200 pages, Server: WWW-Kodeks/6.4, login works"},
    {"switch": {"mode": "down"}, "markers": "port closed: connection refused (reset on a shared vhost port)"},
    {"switch": {"mode": "not-started"}, "markers": "503, page 'Сервер не стартовал' on every path"},
    {"switch": {"mode": "maintenance"}, "markers": "503 + 'режиме тех.обслуживания' on pages and login"},
    {"switch": {"mode": "server-error"}, "markers": "500 + 'Ошибки на сервере' on pages and login"},
    {"switch": {"mode": "proxy-only"}, "markers": "502 Bad Gateway from Server: nginx on every path"},
    {"switch": {"need_support": True}, "markers": "banner 'Требуется обслуживание' on main pages"},
    {
        "switch": {"key_error": sorted(KEY_ERRORS)},
        "markers": "'Привязка: SenseLock ключ - Ошибка защиты NNNN …' on /admin/lic and main pages; "
        "4111/4113 add 'Ключ не найден'",
    },
    {"switch": {"seats_taken": True}, "markers": "login → 'toomanyusers', 'максимальное число подключений'"},
    {"switch": {"busy_seats": "0..seats"}, "markers": "seats held by simulated other users"},
    {"switch": {"delay": "seconds"}, "markers": "every HTTP answer waits this long"},
    {"switch": {"licman_down": True}, "markers": "licence manager port closed; kserver_licman_up 0"},
    {
        "switch": {"stale_operup": True},
        "markers": "sysinfo scenario stale-operup; OperUp 5 days old in sysmon",
    },
    {"switch": {"login_refused": True}, "markers": "every login → 'Ошибка авторизации', form stays"},
    {
        "switch": {"search": [m.value for m in SearchMode]},
        "markers": "search finds nothing / query not parsed",
    },
    {
        "switch": {"cookie_redirect": True},
        "markers": "307 to itself + cookies on cookie-less /sysinfo/* calls",
    },
    {"switch": {"scenarios": ["<sysinfo scenario>"]}, "markers": "extra scenarios in the generated report"},
]
ONLINE_CATALOGUE: list[dict[str, Any]] = [
    {"switch": {"mode": [m.value for m in Mode]}, "markers": "as for installations"},
    {"switch": {"login_refused": True}, "markers": "login → 'Ошибка авторизации'; SOAP → 401"},
    {
        "switch": {"billing_nearly_exhausted": True},
        "markers": "documents counter left at 40 (below the 150 and 50 thresholds)",
    },
    {"switch": {"billing_left": dict.fromkeys(BILLING_KINDS, "units")}, "markers": "set what is left"},
    {"switch": {"billing": {"docs": {"max": 400, "cnt": 380}}}, "markers": "set limit and usage"},
    {"switch": {"delay": "seconds"}, "markers": "every HTTP answer waits this long"},
]


def _json(status: int, payload: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False, indent=1).encode()
    return Response(
        status,
        body,
        [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ],
    )


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})


class ControlApi:
    """HTTP handler of the control port."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    async def handle(self, request: Request) -> Response:
        try:
            return await self._dispatch(request)
        except StateError as exc:
            return _error(400, str(exc))
        except KeyError as exc:
            return _error(404, str(exc.args[0]) if exc.args else "not found")
        except SimulatorError as exc:
            return _error(409, str(exc))

    def _body(self, request: Request) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        try:
            payload = json.loads(request.body)
        except ValueError as exc:
            raise StateError(f"body is not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise StateError("body must be a JSON object")
        return payload

    async def _dispatch(self, request: Request) -> Response:
        sim = self.simulator
        parts = [p for p in request.path.split("/") if p]
        method = request.method
        if parts[:1] != ["api"]:
            return _error(404, "unknown path; see GET /api/health")
        parts = parts[1:]
        write = method in ("POST", "PATCH", "PUT", "DELETE")
        if parts == ["health"]:
            return _json(200, {"ok": True, **sim.summary()})
        if parts == ["states"]:
            return _json(
                200,
                {
                    "installation_fields": list(INSTALLATION_FIELDS),
                    "installation": STATE_CATALOGUE,
                    "online_fields": list(ONLINE_FIELDS),
                    "online": ONLINE_CATALOGUE,
                },
            )
        if parts == ["state"] and write:
            body = self._body(request)
            patch = body.get("set")
            if not isinstance(patch, dict):
                raise StateError('expected {"ids": [...] or "all": true, "set": {...}}')
            if body.get("all") is True:
                refs = None
            elif isinstance(body.get("ids"), list):
                refs = body["ids"]
            else:
                raise StateError('name the installations: "ids": [...] or "all": true')
            return _json(200, {"changed": await sim.set_states(refs, **patch)})
        if parts == ["installations"] and method == "GET":
            offset, limit = _page(request)
            rows = [
                {
                    "id": site.config.index,
                    "client": site.config.client,
                    "url": sim.url(site.config.index),
                    "port": site.listener_port,
                    "mode": site.state.mode.value,
                }
                for site in sim.installations[offset : offset + limit]
            ]
            return _json(200, {"total": len(sim.installations), "offset": offset, "items": rows})
        if parts == ["online"] and method == "GET":
            offset, limit = _page(request)
            rows = [
                {
                    "id": site.config.index,
                    "name": site.config.name,
                    "url": sim.online_url(site.config.index),
                    "catalog": site.config.catalog,
                    "mode": site.state.mode.value,
                }
                for site in sim.online[offset : offset + limit]
            ]
            return _json(200, {"total": len(sim.online), "offset": offset, "items": rows})
        if len(parts) >= 2 and parts[0] == "installations":
            ref = parts[1]
            action = parts[2:]
            if not action and method == "GET":
                return _json(200, sim.describe(ref))
            if action == ["state"] and write:
                return _json(200, {"state": await sim.set_state(ref, **self._body(request))})
            if action == ["state"] and method == "GET":
                return _json(200, {"state": sim.describe(ref)["state"]})
            if action == ["reset"] and write:
                return _json(200, await sim.reset(ref))
            if (action == ["sessions", "clear"] and write) or (action == ["sessions"] and method == "DELETE"):
                return _json(200, {"closed": sim.clear_sessions(ref)})
        if len(parts) >= 2 and parts[0] == "online":
            ref = parts[1]
            action = parts[2:]
            if not action and method == "GET":
                return _json(200, sim.describe_online(ref))
            if action == ["state"] and write:
                return _json(200, {"state": await sim.set_online_state(ref, **self._body(request))})
            if action == ["reset"] and write:
                return _json(200, await sim.reset_online(ref))
        return _error(404 if method == "GET" else 405, f"no such endpoint: {method} {request.path}")


def _page(request: Request) -> tuple[int, int]:
    try:
        offset = max(int(request.query.get("offset", "0")), 0)
        limit = min(max(int(request.query.get("limit", "100")), 0), 100_000)
    except ValueError:
        raise StateError("offset and limit must be integers") from None
    return offset, limit


class SimulatorClientError(RuntimeError):
    """The control API refused a request; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class SimulatorClient:
    """Synchronous client of the control API (for tests and scripts)::

    with SimulatorClient("http://127.0.0.1:17999") as control:
        control.set_state("client00000", mode="maintenance")
    """

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=payload)
        try:
            data = response.json()
        except ValueError:
            data = {"error": response.text}
        if response.status_code >= 400:
            message = data.get("error", response.text) if isinstance(data, dict) else response.text
            raise SimulatorClientError(response.status_code, str(message))
        return data

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/api/health")  # type: ignore[no-any-return]

    def states(self) -> dict[str, Any]:
        return self._call("GET", "/api/states")  # type: ignore[no-any-return]

    def installations(self, offset: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        data = self._call("GET", f"/api/installations?offset={offset}&limit={limit}")
        return list(data["items"])

    def installation(self, ref: int | str) -> dict[str, Any]:
        return self._call("GET", f"/api/installations/{ref}")  # type: ignore[no-any-return]

    def set_state(self, ref: int | str, **patch: Any) -> dict[str, Any]:
        return dict(self._call("POST", f"/api/installations/{ref}/state", patch)["state"])

    def set_states(self, ids: list[int | str] | None, **patch: Any) -> int:
        body: dict[str, Any] = {"set": patch}
        if ids is None:
            body["all"] = True
        else:
            body["ids"] = ids
        return int(self._call("POST", "/api/state", body)["changed"])

    def reset(self, ref: int | str) -> dict[str, Any]:
        return self._call("POST", f"/api/installations/{ref}/reset")  # type: ignore[no-any-return]

    def clear_sessions(self, ref: int | str) -> int:
        return int(self._call("POST", f"/api/installations/{ref}/sessions/clear")["closed"])

    def online(self, offset: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        data = self._call("GET", f"/api/online?offset={offset}&limit={limit}")
        return list(data["items"])

    def online_access(self, ref: int | str) -> dict[str, Any]:
        return self._call("GET", f"/api/online/{ref}")  # type: ignore[no-any-return]

    def set_online_state(self, ref: int | str, **patch: Any) -> dict[str, Any]:
        return dict(self._call("POST", f"/api/online/{ref}/state", patch)["state"])

    def reset_online(self, ref: int | str) -> dict[str, Any]:
        return self._call("POST", f"/api/online/{ref}/reset")  # type: ignore[no-any-return]
