"""The one error type of the parsers."""

from __future__ import annotations


class ParseError(ValueError):
    """The input cannot be used. ``code`` is stable for programs; the messages are for people.

    ``message`` is Russian (shown in the cabinet's upload log), ``message_en`` its English gloss.
    """

    def __init__(self, code: str, message: str, message_en: str) -> None:
        super().__init__(f"{message} ({message_en})")
        self.code = code
        self.message = message
        self.message_en = message_en
