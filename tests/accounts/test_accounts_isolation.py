"""Every endpoint that takes an id answers 404 for another tenant's id, exactly as for a missing one."""

from __future__ import annotations

from tests.support.accounts import all_signals, connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from vigilare_sandbox.seed_aws import create_public_bucket

ACCOUNT = "210987654321"


async def test_another_tenants_ids_answer_404_everywhere(aws_client, sandbox):
    create_public_bucket(sandbox, ACCOUNT, "victim-bucket")
    alice = await owner_headers(aws_client, "alice@a.test")
    mallory = await owner_headers(aws_client, "mallory@m.test")
    verified = await connect_and_verify(aws_client, alice, sandbox, ACCOUNT)
    scan_id = verified["first_scan_execution_arn"]
    await wait_for_scan(aws_client, alice, ACCOUNT, scan_id)
    assert await all_signals(aws_client, alice, ACCOUNT)
    alice_user = (await aws_client.get("/me", headers=alice)).json()["user"]["user_id"]

    attempts = [
        ("GET", f"/accounts/{ACCOUNT}", None),
        ("POST", f"/accounts/{ACCOUNT}/verify", None),
        ("POST", f"/accounts/{ACCOUNT}/scan", None),
        ("GET", f"/accounts/{ACCOUNT}/scans/{scan_id}", None),
        ("GET", f"/accounts/{ACCOUNT}/signals", None),
        ("DELETE", f"/accounts/{ACCOUNT}", None),
        ("PATCH", f"/users/{alice_user}", {"role": "viewer"}),
        ("DELETE", f"/users/{alice_user}", None),
    ]
    for method, path, body in attempts:
        foreign = await aws_client.request(method, path, headers=mallory, json=body)
        missing_path = path.replace(ACCOUNT, "999999999999").replace(alice_user, "01HZZZZZZZZZZZZZZZZZZZZZZZ")
        missing = await aws_client.request(method, missing_path, headers=mallory, json=body)
        assert foreign.status_code == 404, (method, path, foreign.text)
        assert foreign.json() == missing.json(), (method, path)

    assert (await aws_client.get("/accounts", headers=mallory)).json() == {"accounts": [], "total": 0}
    # Mallory can connect the same AWS account id in her own tenant without seeing Alice's data.
    mine = await aws_client.post("/accounts", headers=mallory, json={"aws_account_id": ACCOUNT})
    assert mine.status_code == 201
    assert (await aws_client.get(f"/accounts/{ACCOUNT}/signals", headers=mallory)).json()["signals"] == []
    # And Alice's account is untouched by all of the above.
    assert (await aws_client.get(f"/accounts/{ACCOUNT}", headers=alice)).json()["status"] == "ACTIVE"
