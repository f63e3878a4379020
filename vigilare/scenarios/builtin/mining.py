"""What makes EC2 capacity able to mine crypto-currency: GPU/accelerated families or >= 64 vCPUs.

One judgement for everything the ``compute`` scenario reads (instances, fleet requests, quota
requests), so an instance, a fleet and a quota are called "mining-capable" by the same rule.
"""

from __future__ import annotations

from typing import Any

ACCELERATED_FAMILIES = ("p", "g", "inf", "trn", "dl")
LARGE_INSTANCE_VCPUS = 64


def family_of(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def is_accelerated(instance: dict[str, Any]) -> bool:
    """GPU, inference or training hardware: by DescribeInstanceTypes, else by the family's letters."""
    if instance.get("Accelerators"):
        return True
    # "g5", "p4d", "inf2", "trn1", "dl1": the family is named by the letters before its first digit.
    family = family_of(str(instance.get("InstanceType", "")))
    letters = ""
    for character in family:
        if character.isdigit():
            break
        letters += character
    return letters in ACCELERATED_FAMILIES


def is_mining_capable(instance: dict[str, Any]) -> bool:
    return is_accelerated(instance) or (instance.get("VCpus") or 0) >= LARGE_INSTANCE_VCPUS


def describe_instance(instance: dict[str, Any]) -> str:
    hardware = instance.get("Accelerators") or (
        f"{instance['VCpus']} vCPUs" if instance.get("VCpus") else "accelerated family"
    )
    return f"{instance['InstanceId']} ({instance['InstanceType']}, {hardware})"
