"""A simulated simple online access: one login on a vendor-hosted catalog (spec §8).

The access answers the catalog pages, ``/users/login.asp``, the search calls and the Kodweb SOAP API
at ``/<catalog>/api`` whose ``GetBillingStatus`` returns the monthly counters ``{billing, max, cnt}``
(spec §3.1). Reading the counters costs nothing; opening (``/text``), printing (``/print``), saving
(``/save``) a document and running a search (``/ifind_result``) each use one unit. Counters reset when
the calendar month changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kodeks_smart.simulator.site import Clock, KodeksSite
from kodeks_smart.simulator.state import (
    BILLING_KINDS,
    OnlineConfig,
    OnlineState,
    initial_billing,
    online_state_dict,
)

DAY = 86_400.0


class OnlineSite(KodeksSite):
    """One online access."""

    __slots__ = ("config", "state")
    state: OnlineState

    single_session_per_login = True

    def __init__(self, config: OnlineConfig, clock: Clock, session_ttl: float = DAY) -> None:
        super().__init__(clock, session_ttl)
        self.config = config
        self.state = OnlineState(billing=initial_billing(config), month=self._month())

    def _month(self) -> tuple[int, int]:
        now = datetime.fromtimestamp(self.clock(), UTC)
        return now.year, now.month

    def roll_month(self) -> None:
        """Start new counters when the calendar month has changed (limits are monthly)."""
        month = self._month()
        if month != self.state.month:
            self.state.month = month
            for counter in self.state.billing.values():
                counter.cnt = 0

    # -- KodeksSite hooks ------------------------------------------------------------------------

    @property
    def catalogs(self) -> tuple[str, ...]:
        return ("/" + self.config.catalog,)

    @property
    def owner(self) -> str:
        return self.config.host

    @property
    def seats(self) -> int:
        return self.config.seats

    def root_catalog(self) -> str:
        return self.catalogs[0]

    def check_password(self, login: str, password: str) -> bool:
        return login == self.config.login and password == self.config.password

    def _use(self, kind: str) -> bool:
        self.roll_month()
        counter = self.state.billing[kind]
        if counter.left <= 0:
            return False
        counter.cnt += 1
        return True

    def on_search(self) -> None:
        self._use("search")

    def on_document(self, kind: str) -> bool:
        return self._use(kind)

    def billing_items(self) -> list[tuple[str, int, int]]:
        self.roll_month()
        return [(BILLING_KINDS[kind], c.max, c.cnt) for kind, c in self.state.billing.items()]

    def describe(self, url: str) -> dict[str, Any]:
        self.roll_month()
        c = self.config
        return {
            "id": c.index,
            "name": c.name,
            "client": c.client,
            "host": c.host,
            "catalog": c.catalog,
            "url": url,
            "port": self.listener_port,
            "login": c.login,
            "password": c.password,
            "sessions": len(self.live_sessions()),
            "counters": {
                "requests": self.requests_total,
                "logins": self.logins_total,
                "refused_auth": self.refused_auth_total,
            },
            "state": online_state_dict(self.state),
        }
