"""Run a real `smart serve` (or another SMART entry point) as a subprocess on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def smart_env(home: Path, port: int, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment for a SMART process whose state lives under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMART_")}
    env.update(
        SMART_DATABASE_URL=database_url or f"sqlite:///{home}/smart.db",
        SMART_DATA_DIR=str(home / "data"),
        SMART_SECRET_KEY_FILE=str(home / "secret.key"),
        SMART_HOST="127.0.0.1",
        SMART_PORT=str(port),
        SMART_LOG_FORMAT="json",
        # Test stores name hosts such as alpha.example.ru: a live server must never probe them.
        SMART_PROBES="false",
    )
    env.update(extra)
    return env


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not become healthy in {timeout} s")


@contextmanager
def live_server(
    home: Path, args: list[str] | None = None, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[LiveServer]:
    """Start ``python -m kodeks_smart.cli serve`` (or ``args``) and stop it with SIGTERM afterwards."""
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = env or smart_env(home, port)
    log_path = home / f"server-{port}.log"
    cmd = args or [sys.executable, "-m", "kodeks_smart", "serve"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    server = LiveServer(process, f"http://127.0.0.1:{port}", log_path)
    try:
        wait_until_healthy(server.url, process)
        yield server
    except BaseException:
        print(server.log()[-5000:], file=sys.stderr)
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
