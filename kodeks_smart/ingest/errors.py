"""The error type of the ingest API: an HTTP status and a message in Russian and English."""

from __future__ import annotations


class IngestError(Exception):
    """A refused upload or lookup. ``code`` is stable for programs, the messages are for people."""

    def __init__(self, status: int, code: str, message: str, message_en: str) -> None:
        super().__init__(f"{message} ({message_en})")
        self.status = status
        self.code = code
        self.message = message
        self.message_en = message_en


def bad_credentials() -> IngestError:
    return IngestError(
        401,
        "unauthorized",
        "Неверный или отсутствующий токен либо заголовок dealer",
        "wrong or missing token or dealer header",
    )


def too_many_failures() -> IngestError:
    return IngestError(
        429,
        "rate-limited",
        "Слишком много неудачных попыток с этого адреса, повторите позже",
        "too many failed attempts from this address, try again later",
    )


def too_large(limit: int) -> IngestError:
    return IngestError(
        413,
        "too-large",
        f"Файл больше допустимого размера {limit} байт",
        f"the file exceeds the limit of {limit} bytes",
    )
