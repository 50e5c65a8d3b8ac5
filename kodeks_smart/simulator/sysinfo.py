"""Deterministic generator of synthetic Kodeks sysinfo reports (the simulator's ``/sysinfo/si_save_request``).

No real Kodeks server is available and the report's schema is not public, so this module defines the report
SMART expects (``docs/sysinfo-format.md``) and produces it for any installation profile, including the fault
scenarios behind every sysinfo-driven alert of ``spec/alerts.csv``.

Public API (other modules code against these names)::

    SCENARIOS, SCENARIO_DESCRIPTIONS, DEFAULT_NOW, SysinfoProfile
    generate_xml(profile) -> bytes      # UTF-8 XML
    generate_zip(profile) -> bytes      # the archive si_save_request returns for type=zip
    write_report(profile, out) -> int   # .zip or .xml by suffix, for `smart simulate sysinfo`
    report_filename(profile) -> str     # report_<regnum>_YYYYMMDD_HHMM.zip (Content-Disposition)

Equal profiles give byte-identical output.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Final

from kodeks_smart.simulator.sysinfo_profile import (
    DEFAULT_NOW,
    SCENARIO_DESCRIPTIONS,
    SCENARIOS,
    SysinfoProfile,
)
from kodeks_smart.simulator.sysinfo_sim import Report, default_regnum, local_report_time, simulate
from kodeks_smart.simulator.sysinfo_xml import info_text, render, zip_time

__all__ = [
    "DEFAULT_NOW",
    "SCENARIOS",
    "SCENARIO_DESCRIPTIONS",
    "XML_ENTRY",
    "SysinfoProfile",
    "generate_xml",
    "generate_zip",
    "report_filename",
    "write_report",
]

#: Name of the XML report inside the ZIP.
XML_ENTRY: Final = "sysinfo.xml"
#: Name of the small text summary that rides along in the ZIP.
INFO_ENTRY: Final = "info.txt"


def generate_xml(profile: SysinfoProfile) -> bytes:
    """The sysinfo report for ``profile`` as UTF-8 XML (what ``si_save_request`` returns without type=zip)."""
    return render(simulate(profile))


def generate_zip(profile: SysinfoProfile) -> bytes:
    """The ZIP ``si_save_request`` returns for ``type=zip``: ``sysinfo.xml`` plus ``info.txt``.

    Entry timestamps are the report's local time and entry metadata is fixed, so equal profiles give
    byte-identical archives.
    """
    return _zip(simulate(profile))


def report_filename(profile: SysinfoProfile) -> str:
    """The attachment name a PK gives the ZIP: ``report_<regnum>_<YYYYMMDD>_<HHMM>.zip`` in local time."""
    local = local_report_time(profile)
    return f"report_{default_regnum(profile)}_{local:%Y%m%d_%H%M}.zip"


def write_report(profile: SysinfoProfile, out: Path) -> int:
    """Write the report to ``out`` (``.zip`` or ``.xml``, by suffix) and return the number of bytes written.

    Creates missing parent directories. Raises ValueError for any other suffix.
    """
    suffix = out.suffix.lower()
    if suffix == ".zip":
        data = generate_zip(profile)
    elif suffix == ".xml":
        data = generate_xml(profile)
    else:
        raise ValueError(f"sysinfo report must be written to a .zip or .xml file, got {out.name!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return len(data)


def _zip(report: Report) -> bytes:
    buffer = io.BytesIO()
    stamp = zip_time(report)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in ((XML_ENTRY, render(report)), (INFO_ENTRY, info_text(report))):
            entry = zipfile.ZipInfo(name, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 0  # as written on Windows; fixed so the bytes do not depend on the host
            entry.external_attr = 0x20  # FILE_ATTRIBUTE_ARCHIVE
            archive.writestr(entry, data, compresslevel=6)
    return buffer.getvalue()
