"""Whether the account has been using a region: the baseline every "new region" finding is judged by.

A region has a baseline once the account has used it for :data:`REGION_BASELINE` (30 days). Collectors
that watch a region record the first use they ever saw as ``region_first_seen`` in their per-region
value (EC2's ``ec2.compute_capacity`` does; so do the SageMaker, containers and Lightsail collectors):
pass every such value that counts as use of the region.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from vigilare.plugin.helpers.wording import as_datetime

REGION_BASELINE = timedelta(days=30)
"""How long an account must have used a region before capacity launched there is business as usual."""


def region_first_use(*values: Mapping[str, Any] | None) -> datetime | None:
    """The earliest ``region_first_seen`` among per-region collected values (None values are skipped)."""
    moments = [as_datetime((value or {}).get("region_first_seen")) for value in values]
    present = [moment for moment in moments if moment is not None]
    return min(present) if present else None


def has_baseline(first_use: datetime | None, moment: datetime) -> bool:
    """Whether the region had been in use for :data:`REGION_BASELINE` at ``moment``."""
    return first_use is not None and moment - first_use >= REGION_BASELINE
