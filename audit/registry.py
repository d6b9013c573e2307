"""Which models are audited. Every model that people change is listed here."""

from __future__ import annotations

from auditlog.registry import auditlog
from django.apps import apps

# app_label.Model -> fields left out of the diff (secrets and bookkeeping).
AUDITED_MODELS: dict[str, list[str]] = {
    "tenants.Customer": ["email_domains"],
    "tenants.Domain": [],
    "tenants.EmailDomain": [],
    "tenants.CustomerSettings": [],
    "accounts.User": ["password", "last_login", "auth_stamp"],
    "accounts.AgentMembership": [],
    "accounts.ApiToken": ["digest", "last_used_at"],
    "people.CustomerUser": [],
    "sla.BusinessHours": [],
    "sla.SlaPolicy": [],
    # Reverse relations are listed too: auditlog would otherwise diff the related managers.
    "tickets.Ticket": [
        "last_public_from",
        "updated_at",
        "events",
        "comments",
        "attachments",
        "merged_from",
        "merges",
        "links_out",
        "links_in",
        "watchers",
        "rating",
    ],
    "tickets.Merge": [],
    "tickets.RequestType": ["updated_at", "forms", "tickets"],
    "tickets.RequestForm": ["tickets"],
    "request_library.LibraryRequestType": ["updated_at"],
    "tickets.TicketLink": [],
    "tickets.Watcher": [],
    # A collaborator's access to one ticket (django-guardian, in the customer's schema).
    "guardian.UserObjectPermission": [],
    "tickets.Comment": ["attachments"],
    "tickets.Attachment": ["file"],
    "cmdb.ConfigurationItem": ["updated_at", "children", "tickets", "relations_out", "relations_in"],
    "cmdb.CiRelation": [],
    "billing.DayPassPurchase": [],
    "billing.DayPassConsumption": [],
    "billing.DayPassExpiry": [],
    # The file itself is left out (its sha256 is recorded), and so are the per-row report and the
    # run's progress (rows done, the worker's heartbeat: bookkeeping, written every few seconds).
    "imports.Import": ["content", "report", "processed", "heartbeat_at"],
    "ticket_index.SavedView": ["updated_at"],
    "canned.CannedResponse": ["updated_at"],
    # The email channel's configuration. A mail's own row is not registered (auditlog would read
    # its raw bytes back on every save): what a person does with it is written by
    # ``mail.services`` (``audit.bulk.update_entries``).
    "mail.InboundAddress": [],
    "mail.MailSettings": [],
    # An IMAP mailbox: never its password (encrypted or not), nor what each poll leaves.
    "mail.Mailbox": ["password_encrypted", "last_poll", "last_error", "last_uid", "uidvalidity", "messages"],
    "satisfaction.Rating": [],
    "contracts.Contract": ["ledger"],
    "contracts.PrepaidEntry": [],
    "contracts.TimeEntry": ["reversed_by"],
    "contracts.ClosedMonth": [],
    # An issued report: its version, month and SHA-256 (the files themselves are left out).
    "reports.IssuedReport": ["content", "csv", "pdf", "emailed_at"],
    "reports.ReportSchedule": [],
    # Who is told of what (public rows: a customer's rules and the provider-wide ones), and each
    # person's mutes and quiet hours.
    "notifications.NotificationRule": ["updated_at"],
    "notifications.NotificationPreference": ["updated_at"],
    # An automation rule (what it did is in its RuleAction rows and the tickets' own entries).
    "automations.Rule": ["updated_at"],
}


def register_models() -> None:
    for label, excluded in AUDITED_MODELS.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            auditlog.register(model, exclude_fields=excluded)
