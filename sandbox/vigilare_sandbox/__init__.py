"""Local AWS stand-in for tests, the benchmark and the zero-setup demo: moto plus a small fake
for the APIs moto lacks, behind one gateway endpoint. See `Sandbox`."""

from vigilare_sandbox.recording import RecordedRequest, RequestLog
from vigilare_sandbox.sandbox import Sandbox
from vigilare_sandbox.state import FakeState, SupportPlan

__all__ = ["FakeState", "RecordedRequest", "RequestLog", "Sandbox", "SupportPlan"]
