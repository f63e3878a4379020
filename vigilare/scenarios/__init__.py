"""Scenario plugins: registration (pluggy hook specs), loading, and running detectors over data."""
