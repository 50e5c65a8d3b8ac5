"""`smart serve` as a real process: first start, health, readiness, graceful SIGTERM."""

from __future__ import annotations

import signal
import stat
import sys
import textwrap
import threading
from pathlib import Path

import httpx

from tests.live import free_port, live_server, smart_env

SLOW_APP = textwrap.dedent(
    """
    import asyncio, sys
    from kodeks_smart import server
    from kodeks_smart.app import create_app
    from kodeks_smart.config import Settings

    from kodeks_smart.lib.logs import setup_logging

    settings = Settings.load()
    setup_logging("json")
    services, _ = server.prepare(settings)
    app = create_app(services)

    @app.get("/test/slow")
    async def slow() -> dict[str, str]:
        print("slow request started", flush=True)
        await asyncio.sleep(2)
        return {"finished": "yes"}

    server.run(app, settings)
    """
)


def test_first_start_creates_an_operator_and_prints_the_password_once(tmp_path: Path) -> None:
    with live_server(tmp_path) as srv:
        assert httpx.get(f"{srv.url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{srv.url}/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ok"
        assert srv.terminate() == 0
    password_file = tmp_path / "data" / "initial-admin-password"
    login, password = password_file.read_text().split()
    assert login == "admin" and len(password) >= 16
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert password in srv.log()
    with live_server(tmp_path) as again:
        assert again.terminate() == 0
    assert again.log_path != srv.log_path
    assert password not in again.log()
    assert "Создана учётная запись оператора" not in again.log()
    assert password_file.read_text().split() == [login, password]


def test_metrics_expose_http_and_job_counters(tmp_path: Path) -> None:
    with live_server(tmp_path) as srv:
        httpx.get(f"{srv.url}/healthz")
        body = httpx.get(f"{srv.url}/metrics").text
        assert 'smart_http_requests_total{method="GET",route="/healthz",status="200"}' in body
        assert "smart_job_runs_total" in body


def test_sigterm_lets_an_in_flight_request_finish(tmp_path: Path) -> None:
    port = free_port()
    env = smart_env(tmp_path, port)
    script = tmp_path / "slow_app.py"
    script.write_text(SLOW_APP)
    with live_server(tmp_path, [sys.executable, str(script)], env, port) as srv:
        result: dict[str, object] = {}

        def call() -> None:
            result["response"] = httpx.get(f"{srv.url}/test/slow", timeout=30)

        caller = threading.Thread(target=call)
        caller.start()
        for _ in range(200):
            if "slow request started" in srv.log():
                break
            threading.Event().wait(0.05)
        assert "slow request started" in srv.log()
        srv.process.send_signal(signal.SIGTERM)
        caller.join(timeout=30)
        assert srv.process.wait(timeout=30) == 0
    response = result["response"]
    assert isinstance(response, httpx.Response)
    assert response.status_code == 200 and response.json() == {"finished": "yes"}
    assert "scheduler stopped" in srv.log()
