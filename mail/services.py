"""Changing the email channel's configuration and working the triage list: a customer's
addresses, mail domains and whether new senders are taken (``mail_settings_update``), and a
triaged mail sent to a customer or discarded (``triage_assign``, ``triage_discard``). Every
change is audited under the person who makes it."""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from audit.bulk import change_entry
from core.changes import UNSET, Changes
from core.errors import RuleViolation
from mail import processing
from mail.addresses import customer_address, inbound_domain, pinned_slug
from mail.models import InboundAddress, InboundMessage, MailSettings, State
from tenants.models import Customer
from tenants.services import CustomerChanges, customer_email_domains, customer_update
from tickets.models import RequestType

MAX_ADDRESSES = 20


@dataclass(frozen=True)
class MailChanges(Changes):
    addresses: list[str] = UNSET  # the aliases pinned to the customer, besides its own address
    domains: list[str] = UNSET
    accept_new_senders: bool = UNSET
    accept_list_mail: bool = UNSET
    default_request_type: RequestType | None = UNSET  # of the customer's schema (the caller's)


def mail_settings_of(customer: Customer) -> dict[str, Any]:
    chosen = MailSettings.objects.filter(customer=customer).first()
    aliases = list(InboundAddress.objects.filter(customer=customer).values_list("address", flat=True))
    return {
        "address": customer_address(customer),
        "addresses": [customer_address(customer), *aliases],
        "domains": customer_email_domains(customer),
        "accept_new_senders": bool(chosen and chosen.accept_new_senders),
        "accept_list_mail": bool(chosen and chosen.accept_list_mail),
        "default_request_type": chosen.default_request_type if chosen else None,
    }


def _aliases(customer: Customer, values: list[str]) -> list[str]:
    own = customer_address(customer)
    found: list[str] = []
    errors: list[str] = []
    for value in values:
        address = str(value).strip().lower()
        if address == own or address in found:
            continue
        try:
            validate_email(address)
        except ValidationError:
            errors.append(f"'{address[:80]}' is not an email address.")
            continue
        slug = pinned_slug(address)
        if slug is not None or ("+" in address and address.endswith(f"@{inbound_domain()}")):
            errors.append(
                f"{address}: addresses like <name>@{inbound_domain()} belong to the customer named so."
            )
            continue
        taken = InboundAddress.objects.filter(address=address).exclude(customer=customer).exists()
        if taken:
            errors.append(f"{address} is already in use.")
            continue
        found.append(address)
    if len(found) > MAX_ADDRESSES:
        errors.append(f"At most {MAX_ADDRESSES} addresses besides the customer's own.")
    if errors:
        raise ValidationError({"addresses": errors})
    return found


def mail_settings_update(*, customer: Customer, changes: MailChanges) -> dict[str, Any]:
    wanted = changes.given()
    aliases = _aliases(customer, wanted["addresses"]) if "addresses" in wanted else None
    try:
        with transaction.atomic():
            if "domains" in wanted:
                customer_update(
                    customer=customer, changes=CustomerChanges(email_domains=list(wanted["domains"]))
                )
            flags: dict[str, Any] = {
                k: bool(wanted[k]) for k in ("accept_new_senders", "accept_list_mail") if k in wanted
            }
            if "default_request_type" in wanted:
                chosen_type = wanted["default_request_type"]
                flags["default_request_type"] = chosen_type.pk if chosen_type is not None else None
            if flags:
                chosen, _ = MailSettings.objects.get_or_create(customer=customer)
                for name, value in flags.items():
                    setattr(chosen, name, value)
                chosen.save(update_fields=list(flags))
            if aliases is not None:
                for gone in InboundAddress.objects.filter(customer=customer).exclude(address__in=aliases):
                    gone.delete()  # one by one: audited
                present = set(
                    InboundAddress.objects.filter(customer=customer).values_list("address", flat=True)
                )
                for address in aliases:
                    if address not in present:
                        InboundAddress.objects.create(address=address, customer=customer)
    except IntegrityError as exc:
        raise ValidationError({"addresses": ["An address was just taken by another customer."]}) from exc
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "email_domains" in exc.error_dict:
            raise ValidationError({"domains": exc.error_dict["email_domains"][0].messages}) from exc
        raise
    return mail_settings_of(customer)


def _triaged(message: InboundMessage) -> InboundMessage:
    locked = InboundMessage.objects.select_for_update().defer("raw").get(pk=message.pk)
    if locked.state != State.TRIAGE:
        raise RuleViolation(
            "not_in_triage",
            f"This mail is no longer in triage ({locked.get_state_display().lower()}).",
            status=409,
        )
    return locked


# What an audit entry of a handled mail records (never its bytes): field -> attribute.
_HANDLED = {
    "state": "state",
    "customer": "customer_id",
    "ticket_id": "ticket_id",
    "handled_by": "handled_by_id",
    "handled_at": "handled_at",
}


def _audit_handled(before: InboundMessage, after: InboundMessage) -> None:
    changes = {
        name: [_shown(getattr(before, attname)), _shown(getattr(after, attname))]
        for name, attname in _HANDLED.items()
        if getattr(before, attname) != getattr(after, attname)
    }
    change_entry(after, changes).save()


def _shown(value: object) -> str | None:
    return None if value is None else str(value)


def triage_assign(*, message: InboundMessage, customer: Customer, by: User) -> processing.Outcome:
    """Send a triaged mail to ``customer``: its ticket is made as if the mail had come there."""
    with transaction.atomic():
        locked = _triaged(message)
        if locked.too_large:
            raise RuleViolation("too_large", "This mail is too large to be parsed into a ticket.", status=409)
        before = copy(locked)
        outcome = processing.assign_from_triage(message=locked, customer=customer, by=by)
        _audit_handled(before, locked)
    return outcome


def triage_discard(*, message: InboundMessage, by: User) -> InboundMessage:
    """Discard a triaged mail: kept (it is never deleted), marked discarded by ``by``, audited."""
    with transaction.atomic():
        locked = _triaged(message)
        before = copy(locked)
        locked.state, locked.handled_by, locked.handled_at = State.DISCARDED, by, timezone.now()
        locked.save(update_fields=["state", "handled_by", "handled_at"])
        _audit_handled(before, locked)
    return locked
