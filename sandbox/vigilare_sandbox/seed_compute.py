"""Seeds for the compute the fake serves: Service Quotas increase requests and Lightsail instances.

Quota codes and names as Service Quotas lists them for EC2 (vCPU quotas per instance family:
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-on-demand-instances.html#ec2-on-demand-instances-limits,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from vigilare_sandbox.sandbox import Sandbox
from vigilare_sandbox.state import LightsailInstance, QuotaRequest

EC2_QUOTA_NAMES = {
    "L-1216C47A": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
    "L-DB2E81BA": "Running On-Demand G and VT instances",
    "L-417A185B": "Running On-Demand P instances",
    "L-1945791B": "Running On-Demand Inf instances",
    "L-2C3B7624": "Running On-Demand Trn instances",
    "L-6E869C2A": "Running On-Demand DL instances",
    "L-34B43A08": "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests",
    "L-3819A6DF": "All G and VT Spot Instance Requests",
    "L-7212CCBC": "All P Spot Instance Requests",
    "L-B5D1601B": "All Inf Spot Instance Requests",
    "L-6B0D517C": "All Trn Spot Instance Requests",
    "L-85EED4F7": "All DL Spot Instance Requests",
    "L-74FC7D96": "Running On-Demand F instances",  # FPGA: a vCPU quota Vigilare does not watch
}
# Lightsail Linux bundles (GetBundles): (vCPUs, RAM GiB).
LIGHTSAIL_BUNDLES = {
    "nano_3_0": (2, 0.5),
    "micro_3_0": (2, 1.0),
    "small_3_0": (2, 2.0),
    "medium_3_0": (2, 4.0),
    "large_3_0": (2, 8.0),
    "xlarge_3_0": (4, 16.0),
    "2xlarge_3_0": (8, 32.0),
}


def add_quota_request(
    sandbox: Sandbox,
    account_id: str,
    region: str,
    quota_code: str,
    desired_value: float,
    *,
    status: str = "PENDING",
    created: datetime | None = None,
) -> str:
    """An EC2 quota increase request as RequestServiceQuotaIncrease leaves it; returns its id."""
    request_id = uuid.uuid4().hex
    with sandbox.state.lock:
        sandbox.state.account(account_id).quota_requests.append(
            QuotaRequest(
                id=request_id,
                region=region,
                service_code="ec2",
                quota_code=quota_code,
                quota_name=EC2_QUOTA_NAMES[quota_code],
                desired_value=float(desired_value),
                status=status,
                created=created or datetime.now(UTC),
                case_id="" if status == "PENDING" else f"case-{request_id[:10]}",
            )
        )
    return request_id


def add_lightsail_instance(
    sandbox: Sandbox,
    account_id: str,
    region: str,
    name: str,
    *,
    bundle_id: str = "micro_3_0",
    created: datetime | None = None,
    state: str = "running",
) -> str:
    """A Lightsail instance as CreateInstances leaves it; returns its name."""
    cpus, ram = LIGHTSAIL_BUNDLES[bundle_id]
    with sandbox.state.lock:
        sandbox.state.account(account_id).lightsail_instances.append(
            LightsailInstance(
                name=name,
                region=region,
                bundle_id=bundle_id,
                blueprint_id="ubuntu_22_04",
                created_at=created or datetime.now(UTC),
                state=state,
                cpu_count=cpus,
                ram_size_gb=ram,
            )
        )
    return name
