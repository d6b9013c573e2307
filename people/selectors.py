"""Finding a customer's users (inside its schema)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from people.models import CustomerUser


def profile_from(value: object, *, field: str) -> CustomerUser | None:
    """A customer user of the active schema, by profile id or email, for the input ``field``;
    None for an empty value, a 400 naming the field for anything else."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    profiles = CustomerUser.objects.select_related("user")
    profile = (
        profiles.filter(user__email__iexact=text).first()
        if "@" in text
        else profiles.filter(pk=int(text)).first()
        if text.isdigit() and len(text) < 12
        else None
    )
    if profile is None:
        raise ValidationError({field: [f"No user '{text}' in this customer (give a user id or email)."]})
    return profile
