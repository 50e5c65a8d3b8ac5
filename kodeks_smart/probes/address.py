"""Installation addresses as distributors write them: ``host``, ``host:port``, ``[::1]:80`` or a URL.

``managers.csv`` has ``address:port`` plus a separate http/https field (``Installation.protocol``); a full
URL (``https://12345.te-cloud.ru/docs``) is accepted too, and its scheme and path win.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from kodeks_smart.probes.model import Endpoint


class AddressError(ValueError):
    """The address cannot be probed; the message is Russian."""


def parse_address(address: str, protocol: str = "http") -> Endpoint:
    """Parse an installation address; raises AddressError."""
    text = address.strip()
    if not text:
        raise AddressError("адрес установки не задан")
    if "://" not in text:
        text = f"{protocol or 'http'}://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise AddressError(f"неверный адрес установки {address!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise AddressError(f"неверный протокол {parts.scheme!r} в адресе {address!r}")
    host = parts.hostname
    if not host:
        raise AddressError(f"в адресе {address!r} нет имени сервера")
    if port is None:
        port = 443 if scheme == "https" else 80
    path = parts.path or "/"
    if not path.endswith("/"):
        path += "/"
    return Endpoint(scheme, host, port, path)


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` → (host, port); raises AddressError."""
    try:
        parts = urlsplit(f"//{text.strip()}")
        port = parts.port
    except ValueError as exc:
        raise AddressError(f"неверный адрес {text!r}: {exc}") from None
    if not parts.hostname:
        raise AddressError(f"в адресе {text!r} нет имени сервера")
    return parts.hostname, port if port is not None else default_port
