"""Which objects the probes watch, read from the store with their credentials decrypted.

Installations of kind ``internet`` and ``cloud`` with an address (a closed contour is seen only through
its agents), and every online access. With a shard ``i/N`` a worker takes the objects whose id modulo N
is i, so N workers probe disjoint sets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.config import ConfigError
from kodeks_smart.lib.secrets import SecretBox, SecretKeyError
from kodeks_smart.probes.address import AddressError, parse_address, split_host_port
from kodeks_smart.probes.model import InstallationTarget, OnlineTarget
from kodeks_smart.store.models import Client, Dealer, Installation, OnlineAccess

log = logging.getLogger(__name__)

PROBED_KINDS = ("internet", "cloud")
LICMAN_PORT = 8888


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``""`` (everything) or ``i/N``; raises ConfigError."""
        if not text.strip():
            return cls()
        head, sep, tail = text.partition("/")
        if not sep or not head.strip().isdigit() or not tail.strip().isdigit():
            raise ConfigError(f"SMART_PROBE_SHARD: expected i/N, got {text!r}")
        index, count = int(head), int(tail)
        if count < 1 or not 0 <= index < count:
            raise ConfigError(f"SMART_PROBE_SHARD: {text!r} — need 0 <= i < N")
        return cls(index, count)

    def owns(self, ident: int, kind: str = "inst") -> bool:
        return ident % self.count == self.index


class Owner(Protocol):
    """Decides which targets this process probes: a static `Shard` or a `kodeks_smart.cluster.View`."""

    def owns(self, ident: int, kind: str = "inst") -> bool: ...


@dataclass
class Targets:
    installations: dict[int, InstallationTarget] = field(default_factory=dict)
    online: dict[int, OnlineTarget] = field(default_factory=dict)
    #: Installations that cannot be probed (bad address…) → the reason, for logs and `smart probe`.
    skipped: dict[int, str] = field(default_factory=dict)


class SecretCache:
    """Decrypted passwords by ciphertext: a reload does not decrypt 10,000 passwords again."""

    def __init__(self, box: SecretBox) -> None:
        self.box = box
        self._plain: dict[bytes, str] = {}

    def decrypt(self, token: bytes | None) -> str | None:
        if token is None:
            return None
        plain = self._plain.get(token)
        if plain is None:
            plain = self._plain[token] = self.box.decrypt(token)
        return plain


def installation_target(
    inst: Installation, client: Client, dealer: Dealer, secrets: SecretCache, default_interval: float
) -> InstallationTarget:
    """Raises AddressError (and SecretKeyError when the stored password cannot be decrypted)."""
    endpoint = parse_address(inst.address or "", inst.protocol)
    licman_host: str | None = None
    licman_port = inst.licman_port or LICMAN_PORT
    if inst.licman_host:
        licman_host, licman_port = split_host_port(inst.licman_host, licman_port)
    return InstallationTarget(
        id=inst.id,
        dealer_id=inst.dealer_id,
        cabinet_id=inst.cabinet_id,
        client_id=client.id,
        client=client.short_name,
        dealer=dealer.code,
        endpoint=endpoint,
        ping=inst.ping,
        licman_host=licman_host,
        licman_port=licman_port,
        test_login=inst.test_login or None,
        test_password=secrets.decrypt(inst.test_password_enc),
        interval=float(inst.probe_interval or default_interval),
        tz_offset_minutes=inst.tz_offset_minutes,
        backup_time=inst.backup_time,
        restart_time=inst.restart_time,
        pull=inst.pull,
    )


def load_targets(
    session: Session,
    secrets: SecretCache,
    *,
    shard: Owner | None = None,
    interval: float = 60.0,
    online_interval: float = 3600.0,
) -> Targets:
    owner: Owner = shard or Shard()
    found = Targets()
    rows = session.execute(
        select(Installation, Client, Dealer)
        .join(Client, Client.id == Installation.client_id)
        .join(Dealer, Dealer.id == Installation.dealer_id)
        .where(Installation.kind.in_(PROBED_KINDS), Installation.address.is_not(None))
    )
    for inst, client, dealer in rows:
        if not owner.owns(inst.id):
            continue
        try:
            found.installations[inst.id] = installation_target(inst, client, dealer, secrets, interval)
        except (AddressError, SecretKeyError) as exc:
            found.skipped[inst.id] = str(exc)
    online_rows = session.execute(
        select(OnlineAccess, Client, Dealer)
        .join(Client, Client.id == OnlineAccess.client_id)
        .join(Dealer, Dealer.id == OnlineAccess.dealer_id)
    )
    for access, client, dealer in online_rows:
        if not owner.owns(access.id, "online"):
            continue
        try:
            password = secrets.decrypt(access.password_enc) or ""
        except SecretKeyError as exc:
            log.warning("online access %s: %s", access.id, exc)
            continue
        found.online[access.id] = OnlineTarget(
            id=access.id,
            dealer_id=access.dealer_id,
            cabinet_id=access.cabinet_id,
            client_id=client.id,
            client=client.short_name,
            dealer=dealer.code,
            scheme=access.scheme,
            host=access.host,
            catalog=access.catalog,
            login=access.login,
            password=password,
            interval=online_interval,
        )
    return found
