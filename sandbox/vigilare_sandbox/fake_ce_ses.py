"""Cost Explorer GetAnomalies (JSON 1.1) and SESv2 GetAccount (REST-JSON)."""

from __future__ import annotations

from datetime import date
from typing import Any

from vigilare_sandbox.state import AccountState, CostAnomaly, SesAccount
from vigilare_sandbox.wire import WireResponse, json11_error, json11_ok, rest_json_ok

CE_TARGET = "AWSInsightsIndexService.GetAnomalies"
SES_ACCOUNT_PATH = "/v2/email/account"
_CE_PAGE = 100


def _anomaly_wire(anomaly: CostAnomaly) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "AnomalyId": anomaly.anomaly_id,
        "AnomalyStartDate": anomaly.start_date.isoformat(),
        "DimensionValue": anomaly.dimension_value,
        "RootCauses": anomaly.root_causes,
        "AnomalyScore": {"MaxScore": anomaly.max_score, "CurrentScore": anomaly.current_score},
        "Impact": {
            "MaxImpact": anomaly.max_impact,
            "TotalImpact": anomaly.total_impact,
            "TotalActualSpend": anomaly.total_actual_spend,
            "TotalExpectedSpend": anomaly.total_expected_spend,
            "TotalImpactPercentage": (
                round(100 * anomaly.total_impact / anomaly.total_expected_spend, 2)
                if anomaly.total_expected_spend
                else 0.0
            ),
        },
        "MonitorArn": anomaly.monitor_arn,
    }
    if anomaly.end_date is not None:
        wire["AnomalyEndDate"] = anomaly.end_date.isoformat()
    if anomaly.feedback is not None:
        wire["Feedback"] = anomaly.feedback
    return wire


def _impact_holds(total_impact: float, impact_filter: dict[str, Any]) -> bool:
    operator = impact_filter["NumericOperator"]
    start = float(impact_filter["StartValue"])
    end = float(impact_filter.get("EndValue", start))
    checks = {
        "EQUAL": total_impact == start,
        "GREATER_THAN_OR_EQUAL": total_impact >= start,
        "LESS_THAN_OR_EQUAL": total_impact <= start,
        "GREATER_THAN": total_impact > start,
        "LESS_THAN": total_impact < start,
        "BETWEEN": start <= total_impact <= end,
    }
    return checks.get(operator, False)


def get_anomalies(account: AccountState, body: dict[str, Any]) -> WireResponse:
    interval = body.get("DateInterval")
    if not interval or "StartDate" not in interval:
        return json11_error(
            400, "ValidationException", "1 validation error detected: DateInterval.StartDate is required"
        )
    try:
        start = date.fromisoformat(interval["StartDate"])
        end = date.fromisoformat(interval["EndDate"]) if interval.get("EndDate") else date.max
    except ValueError:
        return json11_error(400, "ValidationException", "DateInterval dates must be YYYY-MM-DD")
    anomalies = [
        anomaly
        for anomaly in account.anomalies
        if start <= anomaly.start_date <= end
        and body.get("MonitorArn") in (None, anomaly.monitor_arn)
        and body.get("Feedback") in (None, anomaly.feedback)
        and ("TotalImpact" not in body or _impact_holds(anomaly.total_impact, body["TotalImpact"]))
    ]
    offset = 0
    if body.get("NextPageToken"):
        try:
            offset = int(body["NextPageToken"])
        except ValueError:
            return json11_error(400, "InvalidNextTokenException", "Invalid NextPageToken")
    size = int(body.get("MaxResults") or _CE_PAGE)
    payload: dict[str, Any] = {
        "Anomalies": [_anomaly_wire(anomaly) for anomaly in anomalies[offset : offset + size]]
    }
    if offset + size < len(anomalies):
        payload["NextPageToken"] = str(offset + size)
    return json11_ok(payload)


def get_ses_account(account: AccountState, region: str) -> WireResponse:
    ses = account.ses_by_region.get(region, SesAccount())
    return rest_json_ok(
        {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": ses.enforcement_status,
            "ProductionAccessEnabled": ses.production_access_enabled,
            "SendQuota": {
                "Max24HourSend": ses.max_24_hour_send,
                "MaxSendRate": ses.max_send_rate,
                "SentLast24Hours": ses.sent_last_24_hours,
            },
            "SendingEnabled": ses.sending_enabled,
            "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
        }
    )
