from __future__ import annotations

import re

from django.core.exceptions import ValidationError

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
RESERVED_SLUGS = frozenset(
    {
        "www",
        "api",
        "public",
        "template",
        "admin",
        "console",
        "portal",
        "app",
        "static",
        "media",
        "mail",
        "smtp",
        "imap",
        "ftp",
        "localhost",
        "status",
        "docs",
        "help",
        "support",
        "billing",
        "auth",
        "login",
        "assets",
        "cdn",
        "test",
        "staging",
    }
)


def validate_slug(value: str) -> None:
    if not SLUG_PATTERN.match(value):
        raise ValidationError(
            "Use 1-40 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
            code="invalid_slug",
        )
    if "--" in value:
        raise ValidationError("Hyphens may not follow one another.", code="invalid_slug")
    if value in RESERVED_SLUGS:
        raise ValidationError(f"'{value}' is reserved; choose another slug.", code="reserved_slug")


def schema_name_for(slug: str) -> str:
    """Schema names are derived, never typed: ``acme-corp`` → ``c_acme_corp``."""
    return "c_" + slug.replace("-", "_")


# What ``schema_name_for`` makes of a valid slug (the same regex in Python and PostgreSQL): the
# clone function, which runs with the owner's rights, creates no schema of another name.
SCHEMA_NAME_REGEX = r"^c_[a-z0-9]+(_[a-z0-9]+)*$"
MAX_SCHEMA_NAME = len("c_") + 40  # slugs have at most 40 characters


def ticket_prefix_for(slug: str) -> str:
    letters = re.sub(r"[^A-Za-z0-9]", "", slug).upper()
    if not letters or not letters[0].isalpha():
        letters = "C" + letters
    return (letters + "X")[:10] if len(letters) < 2 else letters[:10]


# Labels of letters, digits and inner hyphens, at least two, an optional final dot; read the same
# by Python (fullmatch) and by the OpenAPI schema (ECMA regex).
EMAIL_DOMAIN_PATTERN = (
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$"
)
MAX_EMAIL_DOMAIN = 253
MAX_EMAIL_DOMAINS = 50


def email_domain(value: str) -> str:
    """A mail domain as the customer's people write it (``Acme.com`` → ``acme.com``)."""
    if len(value) > MAX_EMAIL_DOMAIN or not re.fullmatch(EMAIL_DOMAIN_PATTERN, value):
        raise ValidationError(
            f"'{value[:60]}' is not a mail domain (e.g. acme.com).", code="invalid_email_domain"
        )
    return value.lower().removesuffix(".")


def email_domains(values: list[str] | tuple[str, ...]) -> list[str]:
    """Several mail domains, each checked, without repeats, in the order given."""
    if len(values) > MAX_EMAIL_DOMAINS:
        raise ValidationError(f"At most {MAX_EMAIL_DOMAINS} mail domains.", code="too_many_email_domains")
    found: list[str] = []
    for value in values:
        domain = email_domain(value)
        if domain not in found:
            found.append(domain)
    return found


MAX_PORTAL_DOMAINS = 20


def portal_domains(values: list[str] | tuple[str, ...], *, base_domain: str) -> list[str]:
    """Extra host names a customer's portal answers on (``support.acme.com``), each checked like
    a mail domain, without repeats. Hosts under ``base_domain`` are refused: that name space is
    the primary portals' (``<slug>.base_domain``), a future customer's included."""
    if len(values) > MAX_PORTAL_DOMAINS:
        raise ValidationError(f"At most {MAX_PORTAL_DOMAINS} portal domains.", code="too_many_portal_domains")
    found: list[str] = []
    for value in values:
        try:
            domain = email_domain(value)
        except ValidationError:
            raise ValidationError(
                f"'{value[:60]}' is not a host name (e.g. support.acme.com).", code="invalid_portal_domain"
            ) from None
        if domain == base_domain or domain.endswith(f".{base_domain}"):
            raise ValidationError(
                f"{domain}: names under {base_domain} are the portals' own; give a domain of the customer's.",
                code="reserved_portal_domain",
            )
        if domain not in found:
            found.append(domain)
    return found
