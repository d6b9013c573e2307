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


def ticket_prefix_for(slug: str) -> str:
    letters = re.sub(r"[^A-Za-z0-9]", "", slug).upper()
    if not letters or not letters[0].isalpha():
        letters = "C" + letters
    return (letters + "X")[:10] if len(letters) < 2 else letters[:10]
