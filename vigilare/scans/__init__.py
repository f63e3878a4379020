"""Scans of one account: the job, the schedule and their API; findings go to :mod:`vigilare.signals`."""
