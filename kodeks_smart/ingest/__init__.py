"""Ingest: the agents' upload API, the spool on disk, the durable queue and the processing that turns raw
files into facts and samples.

Flow (see docs/ingest.md): `routes` authenticates the dealer and streams the file into `spool` (temp file,
fsync, rename, directory fsync); `service.record_upload` writes the upload row and its queue row in one
transaction and only then is the agent answered. `consumer` claims queue rows (`queue`), `process` parses
the raw file with `kodeks_smart.parsers` and `writers` stores the records, all in the transaction that
deletes the queue row. `reprocess` and `retention` work on the same rows.
"""
