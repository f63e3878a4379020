"""Alert delivery channels: email, Slack and PagerDuty."""
