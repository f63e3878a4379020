"""The recovery steps Vigilare knows, keyed by the signal kind they answer.

Phases follow AWS's recovery order (SIGNALS.md, "Recovery checklist, in AWS's order"):
1 find the case and its deadline, 2 root, 3 access keys, 4 IAM, 5 every region, 6 evidence,
7 billing, 8 SES, 9 harden, 10 reply to the case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StepTemplate:
    """One step of the checklist before it is tailored: the affected resources are appended."""

    phase: int
    title: str
    action: str
    docs_url: str
    affected_label: str = "Affected"


COMPROMISE_GUIDE = "https://repost.aws/knowledge-center/potential-account-compromise"
_IAM = "https://docs.aws.amazon.com/IAM/latest/UserGuide"
_CLOUDTRAIL = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide"
_GUARDDUTY = "https://docs.aws.amazon.com/guardduty/latest/ug"
_COST = "https://docs.aws.amazon.com/cost-management/latest/userguide"
_S3 = "https://docs.aws.amazon.com/AmazonS3/latest/userguide"
_SES_PAUSE = "https://repost.aws/knowledge-center/ses-resolve-account-review-pause"
SUSPENDED_ACCOUNT_GUIDE = "https://repost.aws/knowledge-center/reactivate-suspended-account"
SUPPORT_CASES = "https://docs.aws.amazon.com/awssupport/latest/user/case-management.html"
SECURITY_PILLAR = "https://docs.aws.amazon.com/wellarchitected/latest/security-pillar/welcome.html"

KIND_STEPS: Mapping[tuple[str, str], StepTemplate] = {
    # 1. The case and its deadline.
    ("abuse", "health_risk_event"): StepTemplate(
        1,
        "Answer the AWS risk case before its deadline",
        "AWS opened a risk event about exposed or compromised credentials. Open the AWS Health Dashboard "
        "and the case in Support Center, note the deadline, and answer early: AWS may suspend the account "
        "if nobody replies in time. Do not remove the AWSCompromisedKeyQuarantine policy AWS attached.",
        COMPROMISE_GUIDE,
        "Named in the case",
    ),
    ("abuse", "health_abuse_event"): StepTemplate(
        1,
        "Answer the AWS abuse report before its deadline",
        "AWS received an abuse report about resources in this account. Open the case in Support Center, "
        "note the deadline, stop the reported activity on the named resources and say in the case what "
        "you changed: AWS may suspend the account if nobody replies in time.",
        COMPROMISE_GUIDE,
        "Reported resources",
    ),
    ("iam", "quarantine_policy"): StepTemplate(
        1,
        "Keep the quarantine policy and replace the exposed access keys",
        "AWS attached a compromised-key quarantine policy, which means it found a key exposed and opened "
        "a case. Leave the policy attached. Deactivate and delete the quarantined users' access keys, "
        "check in CloudTrail what those keys did, then answer the case.",
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCompromisedKeyQuarantineV2.html",
        "Quarantined",
    ),
    ("takeover", "contact_changed"): StepTemplate(
        1,
        "Restore the account contacts someone changed",
        "AWS sends its abuse and compromise notices, with their deadlines, and account recovery to these "
        "contacts. Unless your team changed them, restore them now, change the root password and its "
        "mailbox's, and find in CloudTrail who called PutContactInformation or PutAlternateContact.",
        "https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-update-contact.html",
        "Contacts",
    ),
    # 2. Root.
    ("root", "root_login_no_mfa"): StepTemplate(
        2,
        "Secure the root user: someone signed in without MFA",
        "Change the root password and the password of the root user's mailbox, enable MFA on the root "
        "user, and check CloudTrail for what the session did.",
        f"{_IAM}/enable-mfa-for-root.html",
        "Sign-ins",
    ),
    ("iam", "root_access_keys"): StepTemplate(
        2,
        "Delete the root user's access keys",
        "Root access keys cannot be limited by any policy. Move whatever uses them to an IAM role, "
        "then deactivate and delete them.",
        f"{_IAM}/id_root-user_manage_delete-key.html",
    ),
    ("iam", "root_mfa_disabled"): StepTemplate(
        2,
        "Enable MFA on the root user",
        "Sign in as root, assign an MFA device (a hardware or passkey device is best), and keep the "
        "recovery details somewhere the team can reach.",
        f"{_IAM}/enable-mfa-for-root.html",
    ),
    ("root", "root_login"): StepTemplate(
        2,
        "Confirm every root sign-in was yours",
        "If anyone cannot account for a root sign-in, change the root password and the root mailbox's "
        "password at once and treat the account as compromised.",
        f"{_IAM}/enable-mfa-for-root.html",
        "Sign-ins",
    ),
    # 3. Access keys.
    ("takeover", "key_new_region"): StepTemplate(
        3,
        "Check access keys used from new regions",
        "These keys were used from a region they never used before. Ask their owners; deactivate any key "
        "nobody can account for, see in CloudTrail what it did, and issue a new one.",
        f"{_IAM}/id_credentials_access-keys.html",
        "Keys",
    ),
    ("iam", "access_keys_duplicate"): StepTemplate(
        3,
        "Keep one active access key per user",
        "A second active key is often one nobody remembers creating. Confirm which key is in use, then "
        "deactivate and delete the other; delete any key you did not create.",
        f"{_IAM}/id_credentials_access-keys.html#rotating_access_keys_console",
        "Users",
    ),
    ("iam", "access_key_old"): StepTemplate(
        3,
        "Rotate access keys older than 90 days",
        "Create a new key, deploy it, deactivate the old one, verify nothing broke, then delete the old key.",
        f"{_IAM}/id_credentials_access-keys.html#rotating_access_keys_console",
        "Users",
    ),
    ("iam", "access_key_unused"): StepTemplate(
        3,
        "Delete unused access keys",
        "Keys unused for 45 days are exposure with no benefit: deactivate them, wait a few days, "
        "then delete them.",
        f"{_IAM}/id_credentials_access-keys.html",
        "Users",
    ),
    # 4. IAM.
    ("iam", "new_admin_user"): StepTemplate(
        4,
        "Verify new administrators",
        "Attackers create admin users to keep access. Confirm who created each user below; delete the "
        "unrecognised ones with their keys, login profiles and policies, and revoke active role sessions.",
        f"{_IAM}/id_users_remove.html",
        "Users",
    ),
    ("persistence", "foreign_role_trust"): StepTemplate(
        4,
        "Remove role trusts to accounts you do not know",
        "These roles can be assumed from outside your accounts, a back door that survives key rotation. "
        "For each, confirm the outside account is a vendor you use; otherwise delete the role or remove the "
        "account from its trust policy, and find who changed it (CreateRole, UpdateAssumeRolePolicy).",
        f"{_IAM}/id_roles_update-role-trust-policy.html",
        "Roles",
    ),
    ("persistence", "new_identity_provider"): StepTemplate(
        4,
        "Verify new SAML and OIDC identity providers",
        "Whoever controls a trusted identity provider signs in without any key of yours. Delete the "
        "providers below unless your team added them, with the roles that trust them.",
        f"{_IAM}/id_roles_providers.html",
        "Providers",
    ),
    ("activity", "left_organization"): StepTemplate(
        2,
        "Secure the account that left its organization",
        "The account left its AWS Organization, escaping its service control policies and central logging. "
        "Unless it was planned, secure the root user and every credential now, then have the management "
        "account invite it back.",
        "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_leave-as-member.html",
        "Account",
    ),
    ("activity", "iam_persistence_change"): StepTemplate(
        4,
        "Undo IAM changes nobody on your team made",
        "CloudTrail shows users, keys, console passwords, admin grants, MFA removals or role trust changes "
        "in the last 24 hours. Confirm each with its author; undo the rest and rotate the credentials that "
        "made them.",
        f"{_IAM}/id_users_remove.html",
        "Changed",
    ),
    ("activity", "region_enabled"): StepTemplate(
        5,
        "Check the regions enabled today",
        "Attackers enable opt-in regions to run capacity where nobody looks. List what runs in each region "
        "below, terminate what you did not create, and disable the region if you do not need it.",
        "https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html",
        "Regions",
    ),
    ("activity", "detection_disabled"): StepTemplate(
        6,
        "Turn detection back on and find who turned it off",
        "GuardDuty detectors or VPC flow logs were deleted or disabled. Re-create them, then look in "
        "CloudTrail for who did it and what they did next.",
        f"{_GUARDDUTY}/guardduty_settingup.html",
        "Removed",
    ),
    # 5. Every region.
    ("compute", "gpu_capacity_new_region"): StepTemplate(
        5,
        "Terminate unrecognised GPU capacity",
        "GPU or very large instances appeared in regions this account did not use: the usual sign of "
        "crypto-mining. Terminate what you did not launch, cancel spot requests, and check AMIs, "
        "snapshots and key pairs in the same regions.",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/terminating-instances.html",
        "Instances",
    ),
    ("billing", "new_region_spend"): StepTemplate(
        5,
        "Find what is running in regions you never used",
        "Charges started in a new region. List everything running there (EC2, spot requests, Lambda, "
        "ECS, SageMaker) and terminate what you did not create.",
        "https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/checklistforunwantedcharges.html",
        "Regions",
    ),
    ("bedrock", "bedrock_new_region"): StepTemplate(
        5,
        "Stop Bedrock use you did not start",
        "Stolen keys are resold for free access to language models. Find who calls InvokeModel or "
        "Converse in the regions below (CloudTrail), deactivate those keys, and deny bedrock:InvokeModel* "
        "where you do not use Bedrock.",
        "https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-runtime-metrics.html",
        "Regions",
    ),
    ("bedrock", "bedrock_spike"): StepTemplate(
        5,
        "Explain the jump in Bedrock use",
        "Model calls or tokens are over ten times their busiest day of the last two weeks. Confirm the "
        "workload is yours; otherwise find the caller in CloudTrail and deactivate its keys.",
        "https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-runtime-metrics.html",
        "Regions",
    ),
    ("compute", "large_fleet"): StepTemplate(
        5,
        "Check large instance fleets",
        "Confirm the fleets below are yours and expected; terminate any you did not launch.",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/terminating-instances.html",
        "Instances",
    ),
    ("compute", "spot_requests"): StepTemplate(
        5,
        "Cancel unrecognised spot requests",
        "Cancel spot requests you did not make, then terminate the instances they launched.",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-instances-request.html",
        "Requests",
    ),
    # 5. Every region: compute asked for beyond single instances (fleet requests).
    ("compute", "fleet_request_new_region"): StepTemplate(
        5,
        "Delete fleet requests for GPU capacity you did not make",
        "An EC2 Fleet or Spot Fleet asks for GPU or very large instances in a region this account did not "
        "use, and keeps launching until its target is met. Delete the fleets below with their instances "
        "(ec2 delete-fleets / cancel-spot-fleet-requests, --terminate-instances), then check their launch "
        "templates, AMIs and key pairs in the same regions.",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/manage-ec2-fleet.html",
        "Fleets",
    ),
    ("compute", "large_fleet_request"): StepTemplate(
        5,
        "Check large fleet requests",
        "Confirm the fleet requests below are yours and expected; delete any you did not create, with "
        "their instances.",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/manage-ec2-fleet.html",
        "Fleets",
    ),
    ("compute", "lightsail_instances"): StepTemplate(
        5,
        "Delete Lightsail instances you did not create",
        "Lightsail servers appeared in regions this account did not use, or many at once. Delete the ones "
        "you did not create, with their snapshots, static IPs and key pairs, and find who called "
        "CreateInstances in CloudTrail.",
        "https://docs.aws.amazon.com/lightsail/latest/userguide/delete-an-instance.html",
        "Instances",
    ),
    ("compute", "quota_increase_request"): StepTemplate(
        5,
        "Check GPU and vCPU quota increases you did not ask for",
        "Stolen keys ask AWS for GPU and vCPU quota before they launch mining fleets. If nobody on your "
        "team asked for the increases below, withdraw them in their support case, find the caller of "
        "RequestServiceQuotaIncrease in CloudTrail and deactivate its keys.",
        "https://docs.aws.amazon.com/servicequotas/latest/userguide/request-quota-increase.html",
        "Quota requests",
    ),
    # Compute outside EC2 instances (the workloads scenario).
    ("workloads", "sagemaker_gpu_new_region"): StepTemplate(
        5,
        "Stop unrecognised SageMaker GPU capacity",
        "GPU or very large SageMaker notebooks, training jobs or endpoints run in regions this account did "
        "not use; they never show among your EC2 instances. Stop the notebooks and training jobs and delete "
        "the endpoints you did not create, then find who created them in CloudTrail and deactivate the keys.",
        "https://docs.aws.amazon.com/sagemaker/latest/dg/security.html",
        "Workloads",
    ),
    ("workloads", "batch_gpu_new_region"): StepTemplate(
        5,
        "Disable unrecognised Batch compute environments",
        "These Batch compute environments can launch GPU or large capacity in regions this account did not "
        "use. Disable the ones you did not create, cancel their jobs, then delete them.",
        "https://docs.aws.amazon.com/batch/latest/userguide/disable-compute-environment.html",
        "Compute environments",
    ),
    ("workloads", "ecs_tasks_new_region"): StepTemplate(
        5,
        "Stop unrecognised ECS tasks",
        "ECS tasks started in regions this account did not use. Scale the services that run them to zero or "
        "delete them, stop the tasks, and deregister task definitions you did not create.",
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/standalone-task-stop.html",
        "Clusters",
    ),
    ("workloads", "lambda_burst"): StepTemplate(
        5,
        "Explain the burst of Lambda concurrency",
        "Lambda ran far more at once than on any day of the last two weeks. Find the functions with the most "
        "invocations in the regions below; delete those you did not create and their triggers.",
        "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html",
        "Regions",
    ),
    ("workloads", "fargate_burst"): StepTemplate(
        5,
        "Explain the burst of Fargate capacity",
        "Fargate ran far more vCPUs than on any day of the last two weeks. List the ECS, EKS and Batch tasks "
        "running on Fargate in the regions below and stop those you did not start.",
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/monitoring-fargate-usage.html",
        "Regions",
    ),
    # 6. Evidence.
    ("root", "trail_deleted"): StepTemplate(
        6,
        "Recreate the deleted CloudTrail trail",
        "Deleting a trail is a common way to hide activity. Recreate a multi-region trail, find who "
        "deleted it in the CloudTrail event history, and keep the 90-day history as evidence.",
        f"{_CLOUDTRAIL}/cloudtrail-create-and-update-a-trail.html",
        "Trails",
    ),
    ("root", "cloudtrail_stopped"): StepTemplate(
        6,
        "Restart CloudTrail logging",
        "Turn logging back on for the trails below and find who stopped it in the CloudTrail event history.",
        f"{_CLOUDTRAIL}/cloudtrail-create-and-update-a-trail.html",
        "Trails",
    ),
    ("threat", "guardduty_finding"): StepTemplate(
        6,
        "Investigate the GuardDuty findings",
        "Follow GuardDuty's remediation for each finding type, isolate the affected resources, and "
        "export the findings as evidence for the case.",
        f"{_GUARDDUTY}/guardduty_remediate.html",
        "Findings",
    ),
    # 7. Billing.
    ("billing", "past_due"): StepTemplate(
        7,
        "Pay the past-due invoices",
        "AWS suspends accounts with unpaid invoices and closes them if they stay unpaid. Settle the "
        "invoices or update the payment method in the Billing console, then contact AWS to reinstate.",
        SUSPENDED_ACCOUNT_GUIDE,
        "Invoices",
    ),
    ("billing", "invoice_due_soon"): StepTemplate(
        7,
        "Pay the invoices due this week",
        "These invoices are still unpaid close to their due date, which often means AWS could not charge "
        "the payment method. Check it in the Billing console and pay before the due date.",
        "https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/manage-payments.html",
        "Invoices",
    ),
    ("billing", "spend_runrate_spike"): StepTemplate(
        7,
        "Explain the spend increase",
        "Review charges by region and usage type in Cost Explorer. If they come from unauthorised use, "
        "ask AWS for a billing adjustment in the case.",
        "https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/checklistforunwantedcharges.html",
    ),
    ("billing", "daily_spend_spike"): StepTemplate(
        7,
        "Explain the daily spend spike",
        "Review the day's charges by service, region and usage type. If they come from unauthorised use, "
        "ask AWS for a billing adjustment in the case.",
        "https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/checklistforunwantedcharges.html",
    ),
    ("billing", "cost_anomaly"): StepTemplate(
        7,
        "Review the cost anomalies",
        "Open each anomaly's root cause in Cost Anomaly Detection and stop what you do not recognise.",
        f"{_COST}/getting-started-ad.html",
        "Anomalies",
    ),
    # 8. SES.
    ("email", "ses_shutdown"): StepTemplate(
        8,
        "Get SES sending reinstated",
        "AWS shut down sending. Fix the cause (list hygiene, bounce and complaint handling), then explain "
        "the fix in the SES case and ask for a review.",
        _SES_PAUSE,
        "Regions",
    ),
    ("email", "ses_probation"): StepTemplate(
        8,
        "Answer the SES review before sending is paused",
        "SES put the account under review. Fix the cause of the bounces or complaints and explain the fix "
        "in the SES case before the review period ends.",
        _SES_PAUSE,
        "Regions",
    ),
    ("email", "ses_bounce_rate"): StepTemplate(
        8,
        "Bring the SES bounce rate down",
        "AWS reviews at 5 % and pauses at 10 %. Remove addresses that bounce, confirm opt-ins and stop "
        "sending to old lists.",
        "https://docs.aws.amazon.com/ses/latest/dg/faqs-enforcement.html",
        "Regions",
    ),
    ("email", "ses_complaint_rate"): StepTemplate(
        8,
        "Bring the SES complaint rate down",
        "AWS reviews at 0.1 % and pauses at 0.5 %. Send only to people who asked for mail and honour "
        "unsubscribes at once.",
        "https://docs.aws.amazon.com/ses/latest/dg/faqs-enforcement.html",
        "Regions",
    ),
    # 9. Harden.
    ("exposure", "public_bucket_write"): StepTemplate(
        9,
        "Stop public writes to S3 buckets",
        "Anyone can upload to these buckets. Remove the public grants and turn on account-level S3 "
        "Block Public Access; check the buckets for objects you did not put there.",
        f"{_S3}/configuring-block-public-access-account.html",
        "Buckets",
    ),
    ("exposure", "public_bucket_read"): StepTemplate(
        9,
        "Make public S3 buckets private",
        "Remove public grants unless the bucket is meant to serve the public, then turn on account-level "
        "S3 Block Public Access.",
        f"{_S3}/configuring-block-public-access-account.html",
        "Buckets",
    ),
    ("exposure", "open_security_group"): StepTemplate(
        9,
        "Close administration ports open to the internet",
        "Replace 0.0.0.0/0 and ::/0 rules on SSH, RDP and database ports with known address ranges, "
        "or use Session Manager instead.",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-rules.html",
        "Security groups",
    ),
    ("sharing", "public_snapshot"): StepTemplate(
        9,
        "Make public EBS snapshots private",
        "Anyone can create a volume from these snapshots and read the disk. Remove the `all` create-volume "
        "permission, check whether the data was meant to be public, and turn on EBS block public access.",
        "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-modifying-snapshot-permissions.html",
        "Snapshots",
    ),
    ("sharing", "public_ami"): StepTemplate(
        9,
        "Make public AMIs private",
        "Anyone can launch these images and read their disks. Remove the `all` launch permission and turn on "
        "block public access for AMIs; rotate any secret baked into them.",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/sharingamis-intro.html",
        "Images",
    ),
    ("threat", "guardduty_disabled"): StepTemplate(
        9,
        "Turn GuardDuty back on",
        "Re-enable the suspended or deleted detectors, and find who disabled them in CloudTrail.",
        f"{_GUARDDUTY}/guardduty_settingup.html",
        "Detectors",
    ),
    ("hygiene", "guardduty_off"): StepTemplate(
        9,
        "Enable GuardDuty in every region",
        "GuardDuty finds credential misuse and crypto-mining; enable it in every enabled region.",
        f"{_GUARDDUTY}/guardduty_settingup.html",
        "Regions",
    ),
    ("hygiene", "no_multiregion_trail"): StepTemplate(
        9,
        "Create a multi-region CloudTrail trail",
        "Without one, activity in regions you do not use leaves no lasting record.",
        f"{_CLOUDTRAIL}/cloudtrail-create-and-update-a-trail.html",
    ),
    ("hygiene", "no_security_contact"): StepTemplate(
        9,
        "Add a security alternate contact",
        "AWS sends abuse and compromise notices there: use a monitored team address, not one person.",
        "https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-update-contact-alternate.html",
    ),
}

# Signals that suggest someone else may be using the account.
COMPROMISE_KINDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("abuse", "health_risk_event"),
        ("abuse", "health_abuse_event"),
        ("iam", "quarantine_policy"),
        ("iam", "new_admin_user"),
        ("persistence", "foreign_role_trust"),
        ("persistence", "new_identity_provider"),
        ("activity", "iam_persistence_change"),
        ("activity", "detection_disabled"),
        ("activity", "region_enabled"),
        ("activity", "left_organization"),
        ("takeover", "contact_changed"),
        ("takeover", "key_new_region"),
        ("bedrock", "bedrock_new_region"),
        ("root", "root_login_no_mfa"),
        ("root", "trail_deleted"),
        ("root", "cloudtrail_stopped"),
        ("compute", "gpu_capacity_new_region"),
        ("compute", "fleet_request_new_region"),
        ("compute", "lightsail_instances"),
        ("workloads", "sagemaker_gpu_new_region"),
        ("workloads", "batch_gpu_new_region"),
        ("billing", "new_region_spend"),
        ("threat", "guardduty_finding"),
    }
)
# Signals that come with an AWS case to answer.
CASE_KINDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("abuse", "health_risk_event"),
        ("abuse", "health_abuse_event"),
        ("iam", "quarantine_policy"),
        ("email", "ses_shutdown"),
        ("email", "ses_probation"),
    }
)

CHECK_FOR_CASE = StepTemplate(
    1,
    "Look for an AWS case and its deadline",
    "These signals often come with an AWS notice that Vigilare cannot read without a Business support "
    "plan. Check Support Center and the root user's mailbox for a case, note its deadline and answer early.",
    SUPPORT_CASES,
)
SWEEP_REGIONS = StepTemplate(
    5,
    "Sweep every region for resources you did not create",
    "Attackers launch where nobody looks. In every enabled region, terminate unrecognised EC2 instances, "
    "spot requests, Lambda functions, ECS tasks and SageMaker jobs, and check AMIs, snapshots and key pairs.",
    COMPROMISE_GUIDE,
)
COLLECT_EVIDENCE = StepTemplate(
    6,
    "Keep the evidence",
    "Download the IAM credential report, export 90 days of CloudTrail event history and the GuardDuty "
    "findings before anything is cleaned up: AWS and your own review will need them.",
    f"{_IAM}/id_credentials_getting-report.html",
)
REPLY_TO_CASE = StepTemplate(
    10,
    "Reply to the AWS case with what you did",
    "List the steps above that you completed in the case (Vigilare drafts this reply in the panic "
    "package) and keep monitoring until AWS closes the event.",
    SUPPORT_CASES,
)

# With no open signal the checks behind these pass; the list keeps them true and adds what no signal covers.
HARDENING: tuple[StepTemplate, ...] = (
    StepTemplate(
        2,
        "Keep the root user locked away",
        "Keep MFA on the root user, never create root access keys, and protect the root mailbox with MFA "
        "too: whoever reads it can reset the root password.",
        f"{_IAM}/enable-mfa-for-root.html",
    ),
    StepTemplate(
        9,
        "Keep the security contact current",
        "AWS sends abuse and compromise notices with deadlines to the SECURITY alternate contact: use a "
        "monitored team address and review it when people leave.",
        "https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-update-contact-alternate.html",
    ),
    StepTemplate(
        9,
        "Keep CloudTrail and GuardDuty on in every region",
        "A multi-region trail and GuardDuty in every enabled region are the evidence and the alarm if a "
        "key ever leaks; check they stay on after account changes.",
        f"{_GUARDDUTY}/guardduty_settingup.html",
    ),
    StepTemplate(
        9,
        "Set a budget and cost anomaly detection",
        "A budget alert and an anomaly monitor catch crypto-mining within hours instead of at month end.",
        f"{_COST}/getting-started-ad.html",
    ),
    StepTemplate(
        9,
        "Turn on S3 Block Public Access for the account",
        "One account-level switch stops any bucket from being made public by mistake.",
        f"{_S3}/configuring-block-public-access-account.html",
    ),
)
