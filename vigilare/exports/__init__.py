"""Exports of an account's data for people and spreadsheets (CSV now; the panic package builds on it)."""
