"""The addresses of the email channel: the inbound domain, each customer's own address
(``<slug>@INBOUND_DOMAIN``) and pinned aliases, and the reply address of a ticket
(``<slug>+<token>@INBOUND_DOMAIN``), whose token names the ticket and is signed with the secret
key, so that it cannot be guessed and a token for ticket A never opens ticket B."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from core.parsers import is_id
from mail.models import InboundAddress
from tenants.models import Customer

_SALT = "mail.reply-address"
_TOKEN_LENGTH = 20


def inbound_domain() -> str:
    return str(settings.INBOUND_DOMAIN)


def served_domains() -> set[str]:
    """The domains the listener accepts recipients on (anything else is 550: no open relay)."""
    domains = {inbound_domain()}
    for address in InboundAddress.objects.values_list("address", flat=True):
        domains.add(address.rsplit("@", 1)[-1])
    return domains


def customer_address(customer: Customer) -> str:
    return f"{customer.slug}@{inbound_domain()}"


def _token(slug: str, ticket_id: int) -> str:
    return salted_hmac(_SALT, f"{slug}:{ticket_id}", algorithm="sha256").hexdigest()[:_TOKEN_LENGTH]


def reply_address(customer: Customer, ticket_id: int) -> str:
    return f"{customer.slug}+{ticket_id}.{_token(customer.slug, ticket_id)}@{inbound_domain()}"


@dataclass(frozen=True)
class ReplyTarget:
    slug: str
    ticket_id: int


def reply_target(address: str) -> ReplyTarget | None:
    """The ticket a reply address names, if its signature holds (None for anything else)."""
    local, _, domain = address.lower().rpartition("@")
    if domain != inbound_domain() or "+" not in local:
        return None
    slug, _, tag = local.partition("+")
    ticket, _, token = tag.partition(".")
    if not is_id(ticket):  # the shared id parser: ASCII digits within bigint
        return None
    if not constant_time_compare(token, _token(slug, int(ticket))):
        return None
    return ReplyTarget(slug=slug, ticket_id=int(ticket))


def pinned_slug(address: str) -> str | None:
    """``<slug>@INBOUND_DOMAIN`` names a customer by its slug (None for other addresses)."""
    local, _, domain = address.lower().rpartition("@")
    if domain != inbound_domain() or "+" in local or not local:
        return None
    return local


def new_message_id() -> str:
    """A Message-ID on our own domain, without its angle brackets."""
    return make_msgid(domain=inbound_domain()).strip("<>")


def our_senders() -> set[str]:
    """Our own sending addresses: mail from them is a loop."""
    return {parseaddr(str(settings.DEFAULT_FROM_EMAIL))[1].lower(), str(settings.SERVER_EMAIL).lower()}
