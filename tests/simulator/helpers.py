"""Helpers shared by the simulator tests."""

from __future__ import annotations

import base64

import httpx

START = 1_776_208_732.0  # 2026-04-14 23:18:52 UTC, the Kodeks cookie of the 2026 agent run


class FakeClock:
    """A settable clock: ``clock.advance(3600)`` moves simulated time one hour forward."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


TEST_PASSWORD = "smartpass"


def login(client: httpx.Client, user: str = "smartlogin", password: str = TEST_PASSWORD) -> httpx.Response:
    return client.post("/users/login.asp", data={"user": user, "pass": password, "path": "/docs"})
