"""Limits that keep a hostile upload from exhausting memory, disk or CPU.

The ingest package builds one `Limits` from the settings; tests pass small ones.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    #: Most members a sysinfo ZIP may list (a real report has one or a few).
    zip_max_entries: int = 64
    #: Most bytes all members of a ZIP may expand to, counted while reading (declared sizes lie).
    zip_max_uncompressed: int = 256 * MiB
    #: Highest expansion ratio of a member once it is larger than `zip_ratio_floor`.
    zip_max_ratio: float = 200.0
    #: Below this size a member may compress as well as it likes (small XML compresses very well).
    zip_ratio_floor: int = 4 * MiB
    #: Largest plain XML or metrics text accepted (an upload is already capped by the HTTP limit).
    max_document_bytes: int = 256 * MiB
    #: Deepest element nesting accepted in an XML report.
    xml_max_depth: int = 64
    #: Most samples kept from one metrics file; the rest are dropped with a warning.
    metrics_max_samples: int = 200_000
