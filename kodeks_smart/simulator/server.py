"""A simulated Kodeks / Techexpert server installation.

Endpoints (spec/kodeks-server-interfaces.md §3): catalog main pages ``/`` and ``/<catalog>/``,
``/users/login.asp`` and ``/users/logout.asp``, ``/admin/{title,lic,pref,cookies,dirs}`` (Basic auth),
``/sysinfo/si_save_request`` (the generator's report), ``/sysinfo/metrics``, ``/sysmon/metrics``
(Basic auth), the catalog search calls and the SOAP API. Which answers follow observed exchanges and
which are assumptions is listed in docs/simulator.md.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time
from typing import Any

from kodeks_smart.simulator import metrics, pages, report
from kodeks_smart.simulator.http import Request, Response, http_date
from kodeks_smart.simulator.licman import LicmanListener
from kodeks_smart.simulator.site import HTML, SERVER_HEADER, Clock, KodeksSite
from kodeks_smart.simulator.state import (
    KEY_ERRORS,
    KEY_NOT_FOUND_CODES,
    InstallationConfig,
    InstallationState,
    Mode,
    installation_state_dict,
)

log = logging.getLogger(__name__)

DAY = 86_400.0
# Products listed on /admin/lic; 100001 is the row peers read as the corporate licence date.
_PRODUCTS = (("100001", "Корпоративная лицензия"), ("100112", "Техэксперт: Помощник инженера"))


class InstallationSite(KodeksSite):
    """One installation: its config, its switchable state and its HTTP behaviour."""

    __slots__ = ("config", "licman", "state")
    state: InstallationState

    def __init__(self, config: InstallationConfig, clock: Clock, session_ttl: float = DAY) -> None:
        super().__init__(clock, session_ttl)
        self.config = config
        self.state = InstallationState()
        self.licman: LicmanListener | None = None

    # -- KodeksSite hooks ------------------------------------------------------------------------

    @property
    def catalogs(self) -> tuple[str, ...]:
        return self.config.catalogs

    @property
    def owner(self) -> str:
        return self.config.owner

    @property
    def seats(self) -> int:
        return self.config.seats

    @property
    def busy_seats(self) -> int:
        return self.state.busy_seats

    def check_password(self, login: str, password: str) -> bool:
        c = self.config.credentials
        if login == c.test_login:
            return password == c.test_password
        if login == c.admin_login:
            return password == c.admin_password
        return password == c.user_password

    def banners(self) -> list[str]:
        out = []
        if self.state.need_support:
            out.append(pages.need_support_banner())
        if self.state.key_error is not None:
            out.append(pages.protection_banner(self.binding(), self.state.key_error in KEY_NOT_FOUND_CODES))
        return out

    # -- facts -----------------------------------------------------------------------------------

    @property
    def licman_address(self) -> str:
        return self.licman.address if self.licman is not None else "127.0.0.1:8888"

    def binding(self) -> str:
        """The ``Привязка:`` text of /admin/lic (after the colon)."""
        code = self.state.key_error
        if code is None:
            return f"SenseLock ключ - ключ подключен (номер {self.config.key_number})"
        message = KEY_ERRORS[code].format(lm=self.licman_address, key=self.config.key_number)
        return f"SenseLock ключ - {message}"

    def seats_exhausted(self) -> bool:
        return self.free_seats() == 0

    def operup_timestamp(self) -> float:
        age = 5 * DAY if self.state.stale_operup else 6 * 3600.0
        return self.clock() - age

    def facts(self) -> metrics.ServerFacts:
        now = self.clock()
        until = datetime.combine(self.config.licence_until, time(), tzinfo=UTC).timestamp()
        return metrics.ServerFacts(
            now=now,
            started_at=self.started_at,
            version=self.config.version,
            regnum=self.config.regnum,
            catalogs=self.config.catalogs,
            running=self.state.mode is not Mode.NOT_STARTED,
            maintenance=self.state.mode is Mode.MAINTENANCE,
            need_support=self.state.need_support,
            server_error=self.state.mode is Mode.SERVER_ERROR,
            key_error=self.state.key_error or 0,
            licman_up=self.licman is not None and self.licman.is_open,
            licman_address=self.licman_address,
            seats=self.config.seats,
            sessions=len(self.live_sessions()),
            busy_seats=self.state.busy_seats,
            logins_total=self.logins_total,
            refused_seats_total=self.refused_seats_total,
            refused_auth_total=self.refused_auth_total,
            requests_total=self.requests_total,
            operup_timestamp=self.operup_timestamp(),
            licence_until=until,
            seed=self.config.seed,
        )

    def describe(self, url: str) -> dict[str, Any]:
        """Config and state as JSON for the control API (no passwords of real systems here)."""
        c = self.config
        live = self.live_sessions()
        return {
            "id": c.index,
            "client": c.client,
            "regnum": c.regnum,
            "owner": c.owner,
            "url": url,
            "port": self.listener_port,
            "licman_port": self.licman.port if self.licman is not None else None,
            "catalogs": list(c.catalogs),
            "seats": c.seats,
            "sessions": len(live),
            "free_seats": self.free_seats(),
            "users": c.users,
            "backup_time": c.backup_time,
            "restart_time": c.restart_time,
            "tz_offset_minutes": c.tz_offset_minutes,
            "licence_until": c.licence_until.isoformat(),
            "version": c.version,
            "credentials": {
                "test": [c.credentials.test_login, c.credentials.test_password],
                "admin": [c.credentials.admin_login, c.credentials.admin_password],
                "sysmon": [c.credentials.test_login, c.credentials.test_password],
                "user_password": c.credentials.user_password,
            },
            "counters": {
                "requests": self.requests_total,
                "logins": self.logins_total,
                "refused_seats": self.refused_seats_total,
                "refused_auth": self.refused_auth_total,
            },
            "state": installation_state_dict(self.state),
        }

    # -- routing ---------------------------------------------------------------------------------

    async def route(self, request: Request) -> Response:
        path = request.path
        if path == "/admin" or path.startswith("/admin/"):
            return self.admin(request)
        if path == "/sysinfo/si_save_request":
            return await self.si_save_request(request)
        if path == "/sysinfo/metrics":
            return self.sysinfo_metrics(request)
        if path == "/sysmon/metrics":
            return self.sysmon_metrics(request)
        return await self.catalog_route(request)

    def admin(self, request: Request) -> Response:
        c = self.config.credentials
        if request.basic_auth() != (c.admin_login, c.admin_password):
            body = pages.unauthorized_page()
            headers = self.kodeks_headers(request, HTML, len(body))
            headers.append(("WWW-Authenticate", 'Basic realm="Kodeks"'))
            return Response(401, body, headers)
        page = request.path.removeprefix("/admin").strip("/")
        if page == "":
            return self.html(request, 200, pages.admin_index())
        if page == "title":
            used = min(len(self.live_sessions()) + self.state.busy_seats, self.config.seats)
            body = pages.admin_title(
                version=self.config.version,
                regnum=self.config.regnum,
                owner=self.config.owner,
                until=self.config.licence_until,
                seats=self.config.seats,
                connections=len(self.live_sessions()) + self.state.busy_seats,
                users=used,
            )
            return self.html(request, 200, body)
        if page == "lic":
            until = self.config.licence_until
            return self.html(
                request,
                200,
                pages.admin_lic(binding=self.binding(), products=[(*p, until) for p in _PRODUCTS]),
            )
        if page == "pref":
            return self.html(
                request,
                200,
                pages.admin_pref(backup_time=self.config.backup_time, restart_time=self.config.restart_time),
            )
        if page == "cookies":
            rows = [
                (s.login, s.ip, datetime.fromtimestamp(s.expires, UTC).strftime("%d.%m.%Y %H:%M"))
                for s in self.live_sessions().values()
            ]
            return self.html(request, 200, pages.admin_cookies(rows))
        if page == "dirs":
            return self.html(request, 200, pages.admin_dirs(self.config.catalogs))
        return self.html(request, 404, pages.not_found_page())

    async def si_save_request(self, request: Request) -> Response:
        if self.state.cookie_redirect and "Kodeks" not in request.cookies():
            # The 2023 agent run shows "Issue another request to this URL" (spec §3.2): answer a
            # cookie-less request with a redirect to itself that sets the cookies (inferred).
            headers = [
                ("Server", SERVER_HEADER),
                ("Date", http_date(zone="UTC")),
                ("Location", request.target),
                ("Content-Length", "0"),
                ("Connection", "close"),
                *self.visitor_cookies(request, self.new_number()),
            ]
            return Response(307, b"", headers)
        as_zip = request.method == "POST" and request.form().get("type") == "zip"
        now = datetime.fromtimestamp(self.clock(), UTC)  # the simulator clock: reproducible reports
        try:
            data = await asyncio.to_thread(
                report.render,
                self.config,
                self.state,
                seats_exhausted=self.seats_exhausted(),
                now=now,
                as_zip=as_zip,
            )
        except ImportError:
            log.warning("sysinfo generator is not installed")
            body = b"sysinfo generator is not installed\n"
            return Response(503, body, self.kodeks_headers(request, "text/plain; charset=utf-8", len(body)))
        except ValueError as exc:
            log.warning("sysinfo generator refused the state of %s: %s", self.config.client, exc)
            body = f"sysinfo generator: {exc}\n".encode()
            return Response(500, body, self.kodeks_headers(request, "text/plain; charset=utf-8", len(body)))
        if as_zip:
            name = report.report_filename(self.config, now)
            headers = [
                ("X-Powered-By", "Express"),
                ("Server", SERVER_HEADER),
                ("Date", http_date(zone="UTC")),
                ("Content-Disposition", f'attachment; filename="{name}"'),
                ("Content-Type", f'application/octet-stream;name="{name}"'),
                ("Connection", "close"),
                ("Transfer-Encoding", "chunked"),
            ]
        else:
            headers = [
                ("Server", SERVER_HEADER),
                ("Date", http_date(zone="UTC")),
                ("Content-Type", "text/xml; charset=utf-8"),
                ("Connection", "close"),
                ("Transfer-Encoding", "chunked"),
            ]
        headers.extend(self.new_visitor_cookies(request))
        return Response(200, data, headers, chunked=True)

    def sysinfo_metrics(self, request: Request) -> Response:
        body = metrics.sysinfo_metrics(self.facts())
        headers = [
            ("X-Powered-By", "Express"),
            ("Server", SERVER_HEADER),
            ("Date", http_date(zone="UTC")),
            ("Content-Type", "text/plain; version=0.0.4; charset=utf-8"),
            ("Connection", "close"),
            ("Transfer-Encoding", "chunked"),
            *self.new_visitor_cookies(request),
        ]
        return Response(200, body, headers, chunked=True)

    def sysmon_metrics(self, request: Request) -> Response:
        """The sysmon plugin answers like Express: lowercase header names, no ``Server`` (spec §3.3)."""
        c = self.config.credentials
        allowed = {(c.test_login, c.test_password), (c.admin_login, c.admin_password)}
        if request.basic_auth() not in allowed:
            body = b"Unauthorized"
            return Response(
                401,
                body,
                [
                    ("X-Powered-By", "Express"),
                    ("www-authenticate", 'Basic realm="sysmon"'),
                    ("content-type", "text/plain; charset=utf-8"),
                    ("content-length", str(len(body))),
                    ("date", http_date()),
                    ("connection", "close"),
                ],
            )
        body = metrics.sysmon_metrics(self.facts())
        return Response(
            200,
            body,
            [
                ("X-Powered-By", "Express"),
                ("content-type", "text/plain; charset=utf-8"),
                ("content-length", str(len(body))),
                ("etag", metrics.weak_etag(body)),
                ("date", http_date()),
                ("connection", "close"),
            ],
        )
