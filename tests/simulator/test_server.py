"""A normal simulated installation answers like the real server.

Markers come from spec/kodeks-server-interfaces.md §2, §3 and §6.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re
import socket
import zipfile

import httpx
import pytest
from lxml import etree

from kodeks_smart.simulator import Simulator, SimulatorConfig, SimulatorError, SimulatorThread
from kodeks_smart.simulator.state import make_installation_config
from tests.simulator.helpers import basic, login


def raw_get(url: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    """The exact bytes of an answer, to check header spelling that HTTP clients normalise."""
    host, port = url.removeprefix("http://").split(":")
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_main_page_carries_the_kodeks_banner_date_and_cookies(kodeks: httpx.Client) -> None:
    response = kodeks.get("/docs/")

    assert response.status_code == 200
    assert response.headers["server"] == "WWW-Kodeks/6.4"
    assert response.headers["date"].endswith(" UTC")
    assert response.headers["connection"] == "close"
    data = base64.b64decode(kodeks.cookies["KodeksData"]).decode()
    assert re.fullmatch(r"_16777343_\d+", data), data  # 16777343 = 127.0.0.1 as little-endian uint32
    assert kodeks.cookies["Kodeks"].isdigit()
    assert kodeks.cookies["lastVDir"] == "/docs"


def test_anonymous_main_page_shows_the_login_form(kodeks: httpx.Client) -> None:
    page = kodeks.get("/docs/").text

    assert 'id="user"' in page
    assert "авторизация" in page.lower()


def test_login_redirects_and_the_main_page_loses_the_form(kodeks: httpx.Client) -> None:
    response = login(kodeks)

    assert response.status_code == 302
    assert response.headers["location"] == "/docs/"
    page = kodeks.get("/docs/").text
    assert 'id="user"' not in page
    assert "smartlogin" in page


def test_a_wrong_password_leaves_the_form_with_an_authorization_error(kodeks: httpx.Client) -> None:
    response = login(kodeks, password="wrong")

    assert response.status_code == 200
    assert "ошибка авторизации" in response.text.lower()
    assert 'id="user"' in response.text


def test_admin_pages_need_basic_auth(kodeks: httpx.Client) -> None:
    response = kodeks.get("/admin/title")

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")


def test_admin_title_has_the_registration_lines_peers_parse(
    sim: SimulatorThread, kodeks: httpx.Client
) -> None:
    info = sim.describe(0)

    page = kodeks.get("/admin/title", auth=("admin", "adminpass")).text

    assert f"Регистрационный номер: <B>{info['regnum']}</B>" in page
    assert f"Зарегистрирована на: <B>{info['owner']}</B>" in page
    until = re.search(r"Ограничение по сроку работы системы: .* до (\d{2}\.\d{2}\.\d{4})", page)
    assert until is not None
    assert re.search(r"Ограничение рег\. файла:\s*(\d+)", page)[1] == str(info["seats"])  # type: ignore[index]
    assert re.search(r"Всего соединений \(сессии\):\s*(\d+)", page)[1] == "0"  # type: ignore[index]
    assert "Пользователи работающие с продуктами (стандартные, расширенные лицензии):" in page


def test_admin_lic_shows_the_binding_and_the_product_100001(kodeks: httpx.Client) -> None:
    page = kodeks.get("/admin/lic", auth=("admin", "adminpass")).text

    assert re.search(r"</H3></CENTER><BR> Привязка: SenseLock ключ - [^<]*<br>", page)
    assert "Ошибка защиты" not in page
    assert re.search(r"100001</td><td>[^<]*</td><td>\d{2}\.\d{2}\.\d{4}</td>", page)


def test_admin_pref_has_backup_and_restart_times(sim: SimulatorThread, kodeks: httpx.Client) -> None:
    info = sim.describe(0)

    page = kodeks.get("/admin/pref", auth=("admin", "adminpass")).text

    assert f'<INPUT TYPE="TEXT" NAME="reservtime" VALUE="{info["backup_time"]}">' in page
    assert f'NAME="restarttime" VALUE="{info["restart_time"]}"' in page
    assert re.search(r"резервное копирование:\s*(\d\d:\d\d)", page)[1] == info["backup_time"]  # type: ignore[index]
    assert re.search(r"перезапуск сервера\s*(\d\d:\d\d)", page)[1] == info["restart_time"]  # type: ignore[index]


def test_sysinfo_metrics_is_the_published_exposition(sim: SimulatorThread, kodeks: httpx.Client) -> None:
    response = kodeks.get("/sysinfo/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response.headers["x-powered-by"] == "Express"
    assert response.headers["transfer-encoding"] == "chunked"
    lines = response.text.splitlines()
    assert lines[0] == "# Sysinfo metrics"
    assert lines[1] == "# Path /docs"
    assert 'kserver_main_page{service="kodweb",path="/docs"} 0' in lines
    assert 'kserver_product_control{service="kodweb",path="/docs"} 0' in lines
    assert lines[-1] == "# End"


def test_sysmon_metrics_needs_basic_auth(kodeks: httpx.Client) -> None:
    assert kodeks.get("/sysmon/metrics").status_code == 401
    assert kodeks.get("/sysmon/metrics", auth=("smartlogin", "wrong")).status_code == 401


def test_sysmon_metrics_answers_like_express_with_lowercase_headers(sim: SimulatorThread) -> None:
    raw = raw_get(sim.url(0), "/sysmon/metrics", {"Authorization": basic("smartlogin", "smartpass")})

    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert b"X-Powered-By: Express" in lines
    assert b"content-type: text/plain; charset=utf-8" in lines
    assert f"content-length: {len(body)}".encode() in lines
    assert any(re.fullmatch(rb'etag: W/"[0-9a-f]+-[A-Za-z0-9+/]{27}"', line) for line in lines)
    assert any(re.fullmatch(rb"date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", line) for line in lines)
    assert b"connection: close" in lines
    assert not any(line.startswith(b"Date:") or line.startswith(b"Server:") for line in lines)
    assert b'kserver_up{service="kodweb"} 1' in body


def test_sysmon_metrics_is_valid_prometheus_text(sim: SimulatorThread) -> None:
    body = httpx.get(sim.url(0) + "/sysmon/metrics", auth=("smartlogin", "smartpass")).text

    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]\w*="[^"]*",?)*\})? -?[0-9.e+]+$')
    for line in body.splitlines():
        assert line.startswith(("# HELP ", "# TYPE ")) or sample.match(line), line


def test_si_save_request_with_type_zip_returns_the_generated_report(sim: SimulatorThread) -> None:
    info = sim.describe(0)

    response = httpx.post(sim.url(0) + "/sysinfo/si_save_request", data={"type": "zip"}, timeout=60)

    assert response.status_code == 200
    assert response.headers["x-powered-by"] == "Express"
    assert response.headers["server"] == "WWW-Kodeks/6.4"
    assert response.headers["transfer-encoding"] == "chunked"
    name = re.fullmatch(
        r'attachment; filename="(report_\d+_\d+_\d{8}_\d{4}\.zip)"', response.headers["content-disposition"]
    )
    assert name is not None
    assert name[1].startswith(f"report_{info['regnum']}_")
    assert response.headers["content-type"] == f'application/octet-stream;name="{name[1]}"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    xml = next(archive.read(n) for n in archive.namelist() if n.endswith(".xml"))
    assert info["client"].encode() in xml


def test_si_save_request_without_type_zip_returns_xml(sim: SimulatorThread) -> None:
    response = httpx.post(sim.url(0) + "/sysinfo/si_save_request", timeout=60)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.headers["transfer-encoding"] == "chunked"
    etree.fromstring(response.content)  # well-formed


def test_search_needs_a_login_and_then_finds_documents(kodeks: httpx.Client) -> None:
    anonymous = kodeks.post("/docs/check_iquery", data={"query": "охрана труда"})
    assert 'id="user"' in anonymous.text

    login(kodeks)
    assert kodeks.post("/docs/check_iquery", data={"query": "охрана труда"}).json() == {"good": True}
    tabs = kodeks.post("/docs/ifind_result", data={"query": "охрана труда"}).json()["tabs"]
    assert tabs[0]["count"] > 0
    listing = kodeks.post("/docs/ifind_list", data={"query": "охрана труда", "id": "7", "part": "0"}).text
    assert re.search(r'<li data-nd="\d+">', listing)


def test_soap_wsdl_describes_get_billing_status(kodeks: httpx.Client) -> None:
    response = kodeks.get("/docs/api?wsdl")

    assert response.status_code == 200
    assert 'soapAction="http://kodekssoap.org/GetBillingStatus"' in response.text
    etree.fromstring(response.content)


def test_unknown_paths_are_404_with_the_kodeks_banner(kodeks: httpx.Client) -> None:
    response = kodeks.get("/no/such/page")

    assert response.status_code == 404
    assert response.headers["server"] == "WWW-Kodeks/6.4"


def test_the_same_seed_gives_the_same_installations() -> None:
    first = [make_installation_config(i, seed=7) for i in range(20)]
    again = [make_installation_config(i, seed=7) for i in range(20)]
    other = [make_installation_config(i, seed=8) for i in range(20)]

    assert first == again
    assert first != other
    assert {c.client for c in first} == {f"client{i:05d}" for i in range(20)}


def test_virtual_hosts_share_one_port_and_the_host_header_picks_the_server() -> None:
    config = SimulatorConfig(installations=3, online=1, vhosts=True, licman=False)
    with SimulatorThread(config) as sim, httpx.Client(timeout=10) as client:
        assert sim.url(0).startswith("http://client00000.localhost:")
        port = sim.simulator.installations[2].listener_port
        base = f"http://127.0.0.1:{port}"
        page = client.get(
            base + "/admin/title",
            headers={"Host": f"client00002.localhost:{port}"},
            auth=("admin", "adminpass"),
        )
        assert sim.describe(2)["regnum"] in page.text
        assert client.get(base + "/", headers={"Host": "nobody.localhost"}).status_code == 404
        online = client.get(base + "/", headers={"Host": "online00000.example"})
        assert online.headers["server"] == "WWW-Kodeks/6.4"

        sim.set_state(1, mode="down")
        with pytest.raises(httpx.TransportError):
            client.get(base + "/", headers={"Host": "client00001.localhost"})
        assert client.get(base + "/docs/", headers={"Host": "client00000.localhost"}).status_code == 200


def test_a_taken_port_fails_the_start() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]

        async def start() -> None:
            sim = Simulator(
                SimulatorConfig(installations=1, port_base=taken, control_port=None, licman=False)
            )
            await sim.start()

        with pytest.raises(SimulatorError, match="cannot listen"):
            asyncio.run(start())


def test_the_simulator_runs_inside_an_existing_event_loop() -> None:
    async def scenario() -> int:
        sim = Simulator(SimulatorConfig(installations=1, control_port=None))
        await sim.start()
        try:
            async with httpx.AsyncClient() as client:
                response = await client.get(sim.url(0) + "/docs/")
            await sim.set_state(0, mode="maintenance")
            async with httpx.AsyncClient() as client:
                blocked = await client.get(sim.url(0) + "/docs/")
            return response.status_code * 1000 + blocked.status_code
        finally:
            await sim.stop()

    assert asyncio.run(scenario()) == 200_503


def test_head_returns_the_headers_only(sim: SimulatorThread) -> None:
    raw = raw_get(sim.url(0), "/docs/")
    head = httpx.head(sim.url(0) + "/docs/")

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(raw.partition(b"\r\n\r\n")[2]))
