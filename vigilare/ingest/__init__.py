"""Push ingest: AWS events reach Vigilare within seconds, on every support plan.

The customer's EventBridge forwards the events that matter (AWS Health risk and abuse cases,
GuardDuty findings, root sign-ins, CloudTrail calls such as StopLogging) to an API destination,
``POST /ingest/aws-events``, authenticated by a per-account secret in a header. The route checks
the secret, stores the event once by its EventBridge id and queues its processing; the job runs the
event handlers that plugins register (``vigilare_event_handlers``) and applies their findings with
the same signal lifecycle, score, history and alert rules as a scan. The scan stays the
reconciliation that catches anything an event missed.

- ``onboarding``: what the customer creates (Terraform, AWS CLI, a test event command).
- ``keys``: the per-account ingest secrets (stored as HMACs, rotated with 24 hours of overlap).
- ``envelope``: reading and checking an EventBridge event.
- ``service``: push set-up, authentication, storing events, push status of an account.
- ``handlers``: running the registered handlers over one event.
- ``jobs``: processing a stored event; recovering events whose job was lost; retention.
- ``controllers``: ``POST /accounts/{id}/push-setup`` and ``POST /ingest/aws-events``.
"""
