"""Scans of one account: the job, the schedule, the signal lifecycle, and their API."""
