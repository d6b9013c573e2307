"""Finding a customer's users (inside its schema)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from core.parsers import parse_id_or_name
from people.models import CustomerUser


def profile_from(value: object, *, field: str) -> CustomerUser | None:
    """A customer user of the active schema, by profile id or email, for the input ``field``;
    None for an empty value, a 400 naming the field for anything else."""
    wanted = parse_id_or_name(value, field=field, max_length=254)
    if wanted is None:
        return None
    profiles = CustomerUser.objects.select_related("user")
    if wanted.id is not None:
        profile = profiles.filter(pk=wanted.id).first()
    else:
        profile = (
            profiles.filter(user__email__iexact=wanted.name).first() if "@" in str(wanted.name) else None
        )
    if profile is None:
        shown = wanted.id if wanted.id is not None else str(wanted.name)[:60]
        raise ValidationError({field: [f"No user '{shown}' in this customer (give a user id or email)."]})
    return profile
