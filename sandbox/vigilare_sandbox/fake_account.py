"""Account Management GetContactInformation (REST-JSON ``POST /getContactInformation``), which moto lacks.

Every AWS account has a primary contact (name, address, phone, country are required when the account
is created), so an account the sandbox never configured answers a default one, as AWS would answer
the details given at sign-up. ``AccountId`` names another account of the organization (the caller
must be its management account); an account id of another account is refused like AWS refuses a
caller outside the organization. https://docs.aws.amazon.com/accounts/latest/reference/API_GetContactInformation.html
"""

from __future__ import annotations

from typing import Any

from vigilare_sandbox.state import AccountState
from vigilare_sandbox.wire import WireResponse, rest_json_error, rest_json_ok

PATH = "/getContactInformation"
DEFAULT_CONTACT: dict[str, str] = {
    "FullName": "Jane Doe",
    "CompanyName": "Example Corp",
    "AddressLine1": "410 Terry Ave N",
    "City": "Seattle",
    "StateOrRegion": "WA",
    "PostalCode": "98109",
    "CountryCode": "US",
    "PhoneNumber": "+12065550100",
}


def get_contact_information(account: AccountState, account_id: str, body: dict[str, Any]) -> WireResponse:
    asked = body.get("AccountId")
    if asked not in (None, "", account_id):
        return rest_json_error(
            403, "AccessDeniedException", "The caller is not the management account of the organization."
        )
    contact = account.contact_information if account.contact_information is not None else DEFAULT_CONTACT
    return rest_json_ok({"ContactInformation": dict(contact)})
