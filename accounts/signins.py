"""Sign-ins in the audit trail (product.md 9, issue 17): a sign-in, a failed sign-in, a sign-out
and an occasional agent's use of an API token are entries (action ``access``) on the person's
account, in the provider's chain (the public schema) whichever host they happened on, with the
channel and the client's address.

A failed sign-in has no person behind it: it is written under the job ``accounts.sign_in``,
naming the email that was tried (and the account, when one has that email). Throttled attempts
are refused before any password is checked and write nothing, so a flood of guesses writes at
most the throttle's allowance of entries.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django_tenants.utils import get_public_schema_name, schema_context

from accounts.models import ApiToken, User
from audit.context import Actor, acting
from audit.models import AuditEntry

SIGN_IN_JOB = "accounts.sign_in"
SIGNED_IN, SIGNED_OUT, FAILED = "signed in", "signed out", "sign-in failed"
PASSWORD_SET = "password set"  # noqa: S105 (an event name)
TOKEN_USED = "token used"  # noqa: S105 (an event name): by an occasional agent


def record(
    event: str,
    *,
    user: User | None,
    channel: str,
    remote_addr: str | None,
    email: str = "",
    reason: str = "",
    token: ApiToken | None = None,
) -> None:
    """One entry for ``event``: as ``user`` when a person signed in or out, else as the job."""
    actor = Actor(user=user, channel=channel, remote_addr=remote_addr, job="" if user else SIGN_IN_JOB)
    account = user or (User.objects.filter(email__iexact=email).first() if email else None)
    details = {"event": event}
    if email:
        details["email"] = email[:254]
    if reason:
        details["reason"] = reason
    if token is not None:
        details["token"] = f"{token.name} (id {token.pk})"
    with schema_context(get_public_schema_name()), acting(actor):
        AuditEntry.objects.create(
            content_type=ContentType.objects.get_for_model(User),
            object_pk=str(account.pk) if account else "",
            object_id=account.pk if account else None,
            object_repr=str(account) if account else email[:254],
            action=AuditEntry.Action.ACCESS,
            changes={"event": [None, event]},
            additional_data=details,
        )


def record_password_set(user: User) -> None:
    """A password set or changed, by whoever is acting (the person, an admin, a job), in the
    chain of the schema it happens in (as the person's other changes): the field itself never
    enters the trail, not even hashed, so the entry says only that it changed."""
    AuditEntry.objects.create(
        content_type=ContentType.objects.get_for_model(User),
        object_pk=str(user.pk),
        object_id=user.pk,
        object_repr=str(user),
        action=AuditEntry.Action.UPDATE,
        changes={"password": ["(hidden)", "(changed)"]},
        additional_data={"event": PASSWORD_SET},
    )
