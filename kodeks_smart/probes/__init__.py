"""SMART's own checks of internet-reachable installations and online accesses (see docs/probes.md).

One module per check kind (`icmp`, `tcp`, `mainpage` — http200, maintenance, needsupport and proxy from
one fetch —, `auth` — auth and limit —, `key`, `warning`, `search`), one cycle in dependency order
(`installation`), online accesses (`online`), the pull of sysinfo and sysmon into ingest (`pull`), the
scheduler (`runner`) and the results writer (`writer`).
"""
