"""Pure parsers: bytes in, typed records out. One module per report format.

Modules here import only the standard library, third-party parsers and ``kodeks_smart.lib``; they never
touch the store, the settings or the network. Every failure is a `ParseError` whose message is shown to the
user as is (Russian, with an English gloss), so that a hostile or broken upload ends as a visible error
on that upload and the pipeline goes on.
"""

from kodeks_smart.parsers.errors import ParseError

__all__ = ["ParseError"]
