"""Forwarding of processed sysinfo reports to ASRP, the vendor's reporting system.

`queue.enqueue_upload` is called by ingest in the transaction that stores a processed sysinfo report and adds
one row per configured forwarder (never twice for one upload); `worker` claims due rows and sends them
through a `forwarders` implementation (HTTP request or drop folder) with exponential backoff, recording the
server's answer; `settings` validates and stores a dealer's forwarder; `service` reads the log for the CLI and
the cabinet. The rule ``SmartAsrpForwardFailing`` (`kodeks_smart.alerts.rules.asrp_rules`) watches the log.
"""
