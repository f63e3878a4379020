"""Alerts: rules, evaluation and delivery."""
