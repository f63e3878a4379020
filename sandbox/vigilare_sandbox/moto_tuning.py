"""One behaviour-preserving speed-up of moto, applied when a Sandbox starts.

moto resolves the account of every request by looking the access key up in each account's IAM
backend for every partition (aws, aws-cn, aws-us-gov, aws-iso, ...), building any backend it has not
built yet. With `MOTO_IAM_LOAD_MANAGED_POLICIES=true` each build copies ~1,600 AWS managed policies,
so the first request in a new account cost several seconds, almost all of it for partitions nobody
uses. The replacement only looks in backends that already exist: a backend never built holds no
keys, so the answer is the same.
"""

from __future__ import annotations

from typing import Any

_PATCHED_MARKER = "_vigilare_sandbox_lookup"


def _lookup_in_built_backends(access_key: str) -> str:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    for account_id, account in list(iam_backends.items()):
        # dict.values() on moto's lazy per-account dict yields only backends already built.
        for backend in list(dict.values(account)):
            if access_key in backend.access_keys:
                return str(account_id)
    return str(DEFAULT_ACCOUNT_ID)


def speed_up_account_lookup() -> None:
    """Install the lookup (idempotent). Imports moto: call at start-up, never at import."""
    import moto.iam.models as iam_models

    current: Any = iam_models.get_account_id_from
    if getattr(current, _PATCHED_MARKER, False):
        return
    setattr(_lookup_in_built_backends, _PATCHED_MARKER, True)
    iam_models.get_account_id_from = _lookup_in_built_backends
