"""Behaviour shared by simulated installations and online accesses: catalogs, login, seats, search, SOAP.

A *site* answers HTTP requests for one simulated object. ``KodeksSite.handle`` applies the availability
mode and the delay, then routes. Subclasses add their own endpoints (``/admin``, ``/sysinfo``,
``/sysmon`` for installations; billing for online accesses).

Seats: a successful login opens a session that holds a seat until logout or expiry (24 h by default,
spec §7.3 [066]). A login is refused with ``toomanyusers`` when sessions plus seats held by simulated
other users reach the licensed number.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import socket
import struct
import zlib
from collections.abc import Callable
from html import escape
from typing import Protocol

from kodeks_smart.simulator import pages
from kodeks_smart.simulator.http import Request, Response, http_date
from kodeks_smart.simulator.state import Mode, SearchMode, Session

SERVER_HEADER = "WWW-Kodeks/6.4"
HTML = "text/html; charset=utf-8"
XML = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
SOAP_NS = "http://kodekssoap.org/"

Clock = Callable[[], float]


def ip_number(ip: str) -> int:
    """The client IPv4 address as a little-endian uint32, as inside the ``KodeksData`` cookie."""
    try:
        packed = socket.inet_aton(ip)
    except OSError:
        return 0
    return int(struct.unpack("<I", packed)[0])


def kodeks_data(ip: str, number: int) -> str:
    """``KodeksData`` value: base64 of ``_<ip as LE uint32>_<number>`` (spec §2.2)."""
    return base64.b64encode(f"_{ip_number(ip)}_{number}".encode()).decode()


def kodeks_data_number(value: str) -> int | None:
    try:
        text = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return None
    parts = text.split("_")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return int(parts[2])


class SiteState(Protocol):
    """What the common request handling reads from a site's state."""

    mode: Mode
    delay: float
    login_refused: bool
    search: SearchMode


class KodeksSite:
    """Common request handling; see the module docstring."""

    __slots__ = (
        "_next_number",
        "clock",
        "listener_port",
        "logins_total",
        "refused_auth_total",
        "refused_seats_total",
        "requests_total",
        "session_ttl",
        "sessions",
        "started_at",
    )

    single_session_per_login = False  # online accesses: a new login replaces the login's old session

    def __init__(self, clock: Clock, session_ttl: float) -> None:
        self.clock = clock
        self.session_ttl = session_ttl
        self.sessions: dict[int, Session] | None = None
        self._next_number = 1_793_205
        self.logins_total = 0
        self.refused_seats_total = 0
        self.refused_auth_total = 0
        self.requests_total = 0
        self.started_at = clock()
        self.listener_port = 0  # the HTTP port this site answers on, set when the simulator binds

    #: the switchable state of the subclass (installation or online access); its slot is the subclass's
    state: SiteState

    # -- hooks for subclasses ----------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        return self.state.mode

    @property
    def delay(self) -> float:
        return self.state.delay

    @property
    def login_refused(self) -> bool:
        return self.state.login_refused

    @property
    def search_mode(self) -> SearchMode:
        return self.state.search

    @property
    def catalogs(self) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def owner(self) -> str:
        raise NotImplementedError

    @property
    def seats(self) -> int:
        raise NotImplementedError

    @property
    def busy_seats(self) -> int:
        return 0

    def check_password(self, login: str, password: str) -> bool:
        raise NotImplementedError

    def banners(self) -> list[str]:
        return []

    async def route(self, request: Request) -> Response:
        return await self.catalog_route(request)

    def on_search(self) -> None:
        """Called when a search is executed (online accesses count it)."""

    def on_document(self, kind: str) -> bool:
        """Called when a document is opened (``docs``), printed (``print``) or saved (``upload``).

        Returns False when the action is refused (an online access whose monthly limit is used up).
        """
        return True

    def billing_items(self) -> list[tuple[str, int, int]]:
        """``(billing, max, cnt)`` rows of GetBillingStatus; none on an installation."""
        return []

    # -- entry point ---------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        self.requests_total += 1
        mode = self.mode
        if mode is Mode.DOWN:
            return Response(abort=True)  # only reachable on a shared (virtual host) listener
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        if mode is Mode.PROXY_ONLY:
            return proxy_bad_gateway()
        if mode is Mode.NOT_STARTED:
            return self.html(request, 503, pages.not_started_page())
        return await self.route(request)

    # -- responses -----------------------------------------------------------------------------

    def kodeks_headers(
        self, request: Request, content_type: str, length: int | None
    ) -> list[tuple[str, str]]:
        """Headers of the kodwebd web server: ``Server``, ``Date … UTC``, cookies for a new visitor."""
        headers = [("Server", SERVER_HEADER), ("Date", http_date(zone="UTC")), ("Content-Type", content_type)]
        if length is not None:
            headers.append(("Content-Length", str(length)))
        headers.append(("Connection", "close"))
        headers.extend(self.new_visitor_cookies(request))
        return headers

    def new_visitor_cookies(self, request: Request) -> list[tuple[str, str]]:
        """``Kodeks``/``KodeksData`` cookies for a client that has none yet (spec §2.2)."""
        if "KodeksData" in request.cookies():
            return []
        return self.visitor_cookies(request, self.new_number())

    def visitor_cookies(self, request: Request, number: int) -> list[tuple[str, str]]:
        return [
            ("Set-Cookie", f"Kodeks={int(self.clock())}; path=/"),
            ("Set-Cookie", f"KodeksData={kodeks_data(request.peer, number)}; path=/"),
        ]

    def html(
        self, request: Request, status: int, body: bytes, extra: list[tuple[str, str]] | None = None
    ) -> Response:
        headers = self.kodeks_headers(request, HTML, len(body))
        if extra:
            headers.extend(extra)
        return Response(status, body, headers)

    def json(self, request: Request, payload: object) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return Response(200, body, self.kodeks_headers(request, JSON_TYPE, len(body)))

    def new_number(self) -> int:
        self._next_number += 1
        return self._next_number

    # -- sessions and seats --------------------------------------------------------------------

    def live_sessions(self) -> dict[int, Session]:
        """Sessions that have not expired (expired ones are dropped here)."""
        if not self.sessions:
            return {}
        now = self.clock()
        expired = [number for number, s in self.sessions.items() if s.expires <= now]
        for number in expired:
            del self.sessions[number]
        if not self.sessions:
            self.sessions = None
            return {}
        return self.sessions

    def free_seats(self) -> int:
        return max(self.seats - self.busy_seats - len(self.live_sessions()), 0)

    def session_of(self, request: Request) -> tuple[int, Session] | None:
        value = request.cookies().get("KodeksData")
        number = kodeks_data_number(value) if value else None
        if number is None:
            return None
        session = self.live_sessions().get(number)
        return (number, session) if session is not None else None

    def user_of(self, request: Request) -> str | None:
        found = self.session_of(request)
        return found[1].login if found else None

    def clear_sessions(self) -> int:
        count = len(self.live_sessions())
        self.sessions = None
        return count

    def _open_session(self, login: str, ip: str) -> int:
        if self.sessions is None:
            self.sessions = {}
        if self.single_session_per_login:
            for number in [n for n, s in self.sessions.items() if s.login == login]:
                del self.sessions[number]
        number = self.new_number()
        self.sessions[number] = Session(login, self.clock() + self.session_ttl, ip)
        return number

    # -- catalog pages, login, search ------------------------------------------------------------

    def split_catalog(self, path: str) -> tuple[str, str] | None:
        """``/docs/ifind_list`` → (``/docs``, ``ifind_list``); ``None`` if not under a known catalog."""
        head, _, rest = path.lstrip("/").partition("/")
        catalog = "/" + head
        if catalog in self.catalogs:
            return catalog, rest
        return None

    def unavailable(self, request: Request) -> Response | None:
        """The user-facing answer of the maintenance and server-error modes."""
        if self.mode is Mode.MAINTENANCE:
            return self.html(request, 503, pages.maintenance_page(), [("Retry-After", "600")])
        if self.mode is Mode.SERVER_ERROR:
            return self.html(request, 500, pages.server_error_page())
        return None

    def main_page(
        self, request: Request, catalog: str, *, error: str = "", user: str | None = None
    ) -> Response:
        body = pages.main_page(
            catalog=catalog,
            owner=self.owner,
            user=user,
            banners=self.banners(),
            error=error,
            catalogs=self.catalogs,
        )
        extra = [("Set-Cookie", f"lastVDir={catalog}; path=/")] if catalog != "/" else None
        return self.html(request, 200, body, extra)

    async def catalog_route(self, request: Request) -> Response:
        path = request.path
        if path in ("/users/login.asp", "/users/logout.asp") or path == "/" or self.split_catalog(path):
            blocked = self.unavailable(request)
            if blocked is not None:
                return blocked
        if path == "/users/login.asp":
            return self.login(request)
        if path == "/users/logout.asp":
            return self.logout(request)
        if path == "/":
            return self.main_page(request, self.root_catalog(), user=self.user_of(request))
        found = self.split_catalog(path)
        if found is None:
            return self.html(request, 404, pages.not_found_page())
        catalog, rest = found
        if rest in ("", "index.html", "index.asp"):
            return self.main_page(request, catalog, user=self.user_of(request))
        if rest == "api":
            return self.soap(request, catalog)
        if rest in ("check_iquery", "ifind_result", "ifind_list", "text", "print", "save"):
            if self.user_of(request) is None:
                return self.main_page(request, catalog)
            return self.search_or_document(request, catalog, rest)
        return self.html(request, 404, pages.not_found_page())

    def root_catalog(self) -> str:
        return "/"

    def login(self, request: Request) -> Response:
        form = request.form()
        target = form.get("path") or "/docs"
        catalog = target.rstrip("/") or "/"
        page_catalog = catalog if catalog in self.catalogs else self.catalogs[0]
        if request.method != "POST":
            return self.main_page(request, page_catalog)
        login, password = form.get("user", ""), form.get("pass", "")
        if self.login_refused:
            self.refused_auth_total += 1
            error = pages.auth_error("вход пользователей в систему запрещён")
            return self.main_page(request, page_catalog, error=error)
        if not login or not self.check_password(login, password):
            self.refused_auth_total += 1
            return self.main_page(request, page_catalog, error=pages.auth_error())
        current = self.session_of(request)
        if current is not None and current[1].login == login:
            current[1].expires = self.clock() + self.session_ttl
            number = current[0]
        else:
            replaces_own = self.single_session_per_login and any(
                s.login == login for s in self.live_sessions().values()
            )
            if not replaces_own and self.free_seats() <= 0:
                self.refused_seats_total += 1
                return self.main_page(request, page_catalog, error=pages.too_many_users_error())
            number = self._open_session(login, request.peer)
            self.logins_total += 1
        location = catalog + "/" if catalog not in ("/", "/admin") else catalog
        headers = [
            ("Server", SERVER_HEADER),
            ("Date", http_date(zone="UTC")),
            ("Location", location),
            ("Content-Length", "0"),
            ("Connection", "close"),
            *self.visitor_cookies(request, number),
        ]
        return Response(302, b"", headers)

    def logout(self, request: Request) -> Response:
        found = self.session_of(request)
        if found is not None and self.sessions is not None:
            del self.sessions[found[0]]
        headers = [
            ("Server", SERVER_HEADER),
            ("Date", http_date(zone="UTC")),
            ("Location", self.catalogs[0] + "/"),
            ("Content-Length", "0"),
            ("Connection", "close"),
        ]
        return Response(302, b"", headers)

    def search_or_document(self, request: Request, catalog: str, action: str) -> Response:
        form = request.form()
        if action in ("text", "print", "save"):
            try:
                nd = int(form.get("nd", "0"))
            except ValueError:
                nd = 0
            if nd <= 0:
                return self.html(request, 404, pages.not_found_page())
            if not self.on_document({"text": "docs", "print": "print", "save": "upload"}[action]):
                return self.html(request, 200, pages.limit_exhausted_page())
            return self.html(request, 200, pages.document_page(nd, f"Документ {nd}"))
        query = form.get("query", "").strip()
        mode = self.search_mode
        if action == "check_iquery":
            if mode is SearchMode.ERROR or not query:
                return self.json(request, {"good": False, "error": "Ошибка разбора поискового запроса"})
            return self.json(request, {"good": True})
        hits = 0 if mode is not SearchMode.OK or not query else 1 + zlib.crc32(query.encode()) % 40
        if action == "ifind_result":
            if mode is SearchMode.ERROR:
                return self.json(request, {"tabs": [], "error": "Ошибка разбора поискового запроса"})
            self.on_search()
            return self.json(request, {"tabs": [{"id": "7", "title": "Документы", "count": hits}]})
        part_text = form.get("part", "0")
        start = (int(part_text) if part_text.isdigit() else 0) * 20
        items = [
            (
                100_000_000 + (zlib.crc32(f"{query}:{i}".encode()) % 900_000_000),
                f"Документ {i + 1} по запросу «{query}»",
            )
            for i in range(start, min(start + 20, hits))
        ]
        body = pages.search_list(items, catalog)
        return Response(200, body, self.kodeks_headers(request, HTML, len(body)))

    # -- SOAP (Kodweb API) ---------------------------------------------------------------------

    def soap(self, request: Request, catalog: str) -> Response:
        if request.method == "GET":
            body = wsdl(f"http://{request.header('host') or '127.0.0.1'}{catalog}/api").encode()
            return Response(200, body, self.kodeks_headers(request, XML, len(body)))
        credentials = request.basic_auth()
        if credentials is None or not self.check_password(*credentials) or self.login_refused:
            body = pages.unauthorized_page()
            headers = self.kodeks_headers(request, HTML, len(body))
            headers.append(("WWW-Authenticate", 'Basic realm="Kodeks"'))
            return Response(401, body, headers)
        action = request.header("soapaction").strip('"')
        payload = request.body.decode("utf-8", errors="replace")
        if action.endswith("GetBillingStatus") or "GetBillingStatus" in payload:
            body = billing_envelope(self.billing_items()).encode()
        elif action.endswith("GetSearchAttributes") or "GetSearchAttributes" in payload:
            body = search_attributes_envelope().encode()
        else:
            body = soap_fault("Operation is not supported by the simulator").encode()
            return Response(500, body, self.kodeks_headers(request, XML, len(body)))
        return Response(200, body, self.kodeks_headers(request, XML, len(body)))


def proxy_bad_gateway() -> Response:
    """What a reverse proxy (nginx) answers while the Kodeks server behind it is down."""
    body = pages.PROXY_BAD_GATEWAY
    return Response(
        502,
        body,
        [
            ("Server", "nginx"),
            ("Date", http_date()),
            ("Content-Type", "text/html"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ],
    )


def _envelope(inner: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:tns="{SOAP_NS}"><soap:Body>{inner}</soap:Body></soap:Envelope>\n'
    )


def billing_envelope(items: list[tuple[str, int, int]]) -> str:
    """``GetBillingStatusResponse`` → ``ArrayOfBillingStatus`` of ``{billing, max, cnt}`` (spec §3.1)."""
    rows = "".join(
        f"<item_BillingStatus><billing>{escape(name)}</billing><max>{top}</max><cnt>{used}</cnt></item_BillingStatus>"
        for name, top, used in items
    )
    return _envelope(
        f"<tns:GetBillingStatusResponse><ArrayOfBillingStatus>{rows}</ArrayOfBillingStatus>"
        "</tns:GetBillingStatusResponse>"
    )


def search_attributes_envelope() -> str:
    attrs = (
        (1, "Название"),
        (2, "Номер"),
        (3, "Дата принятия"),
    )
    rows = "".join(
        f"<item_SearchAttribute><id>{i}</id><type>1</type><name>{name}</name><hintId></hintId>"
        "<isGlobal>true</isGlobal><customName></customName><customOrder></customOrder></item_SearchAttribute>"
        for i, name in attrs
    )
    return _envelope(
        f"<tns:GetSearchAttributesResponse><SearchAttributes>{rows}</SearchAttributes>"
        "</tns:GetSearchAttributesResponse>"
    )


def soap_fault(message: str) -> str:
    return _envelope(
        f"<soap:Fault><faultcode>soap:Client</faultcode><faultstring>{escape(message)}</faultstring>"
        "</soap:Fault>"
    )


def wsdl(address: str) -> str:
    """A WSDL with the operations the simulator answers (SOAP 1.1, RPC style)."""
    operations = ("GetBillingStatus", "GetSearchAttributes")
    messages = "".join(
        f'<wsdl:message name="{op}SoapIn"></wsdl:message>'
        f'<wsdl:message name="{op}SoapOut"><wsdl:part name="{out}" type="tns:{out}"/></wsdl:message>'
        for op, out in zip(operations, ("ArrayOfBillingStatus", "SearchAttributes"), strict=True)
    )
    port_ops = "".join(
        f'<wsdl:operation name="{op}"><wsdl:input message="tns:{op}SoapIn"/>'
        f'<wsdl:output message="tns:{op}SoapOut"/></wsdl:operation>'
        for op in operations
    )
    binding_ops = "".join(
        f'<wsdl:operation name="{op}"><soap:operation soapAction="{SOAP_NS}{op}" style="rpc"/>'
        f'<wsdl:input><soap:body use="literal" namespace="{SOAP_NS}"/></wsdl:input>'
        f'<wsdl:output><soap:body use="literal" namespace="{SOAP_NS}"/></wsdl:output></wsdl:operation>'
        for op in operations
    )
    types = (
        '<s:schema elementFormDefault="qualified" targetNamespace="http://kodekssoap.org/">'
        '<s:complexType name="BillingStatus"><s:sequence>'
        '<s:element minOccurs="1" maxOccurs="1" name="billing" type="s:string"/>'
        '<s:element minOccurs="1" maxOccurs="1" name="max" type="s:int"/>'
        '<s:element minOccurs="1" maxOccurs="1" name="cnt" type="s:int"/>'
        "</s:sequence></s:complexType>"
        '<s:complexType name="ArrayOfBillingStatus"><s:sequence>'
        '<s:element minOccurs="0" maxOccurs="unbounded" name="item_BillingStatus" type="tns:BillingStatus"/>'
        "</s:sequence></s:complexType></s:schema>"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<wsdl:definitions xmlns:s="http://www.w3.org/2001/XMLSchema" '
        'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
        f'xmlns:tns="{SOAP_NS}" targetNamespace="{SOAP_NS}">'
        f"<wsdl:types>{types}</wsdl:types>{messages}"
        f'<wsdl:portType name="apiSoap">{port_ops}</wsdl:portType>'
        '<wsdl:binding name="apiSoap" type="tns:apiSoap">'
        '<soap:binding transport="http://schemas.xmlsoap.org/soap/http" style="rpc"/>'
        f"{binding_ops}</wsdl:binding>"
        '<wsdl:service name="api"><wsdl:port name="apiSoap" binding="tns:apiSoap">'
        f'<soap:address location="{escape(address)}"/></wsdl:port></wsdl:service>'
        "</wsdl:definitions>\n"
    )
