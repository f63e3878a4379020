"""Signals: a finding as Vigilare keeps it for an account, open until a complete scan no longer sees it.

``models`` holds the table, ``lifecycle`` turns a scan's findings into opened, updated and resolved
signals, ``service`` the queries (the API listing, the open signals, batches for exports) and ``view``
the one output form of a signal that the API, the CSV export, the panic package and alert snapshots
all show. ``scoring``, ``alerts`` and ``exports`` read signals through here; ``scans`` applies a scan.
"""
