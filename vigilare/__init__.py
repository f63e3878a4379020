"""Vigilare: watches AWS accounts for the signals that come before a suspension."""

__version__ = "0.1.0"
