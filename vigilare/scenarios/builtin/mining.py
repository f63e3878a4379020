"""What makes EC2 capacity able to mine crypto-currency: GPU/accelerated families or >= 64 vCPUs.

One judgement for everything the ``compute`` scenario reads (instances, fleet requests, quota
requests), so an instance, a fleet and a quota are called "mining-capable" by the same rule.
"""

from __future__ import annotations

from typing import Any

from vigilare.plugin import is_accelerated_type

# The families is_accelerated_type recognises (named here for the scenario docs and tests).
ACCELERATED_FAMILIES = ("p", "g", "inf", "trn", "dl")
LARGE_INSTANCE_VCPUS = 64


def family_of(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def is_accelerated(instance: dict[str, Any]) -> bool:
    """GPU, inference or training hardware: by DescribeInstanceTypes, else by the family's letters
    (``is_accelerated_type``, which SageMaker's ``ml.`` types share)."""
    return bool(instance.get("Accelerators")) or is_accelerated_type(str(instance.get("InstanceType", "")))


def is_mining_capable(instance: dict[str, Any]) -> bool:
    return is_accelerated(instance) or (instance.get("VCpus") or 0) >= LARGE_INSTANCE_VCPUS


def describe_instance(instance: dict[str, Any]) -> str:
    hardware = instance.get("Accelerators") or (
        f"{instance['VCpus']} vCPUs" if instance.get("VCpus") else "accelerated family"
    )
    return f"{instance['InstanceId']} ({instance['InstanceType']}, {hardware})"
