"""What the ticket pages ask of an attachment: whether (and how) they preview it."""

from __future__ import annotations

from django import template

from tickets.attachments import preview_kind as kind_of
from tickets.models import Attachment

register = template.Library()


@register.filter
def preview_kind(attachment: Attachment) -> str:
    """ "image", "pdf" or "" (``tickets.attachments.preview_kind``)."""
    return kind_of(attachment.content_type)


@register.filter
def entry(mapping: dict[object, object] | None, key: object) -> object:
    """``mapping[key]``, or "" (a template cannot index a dict by a variable)."""
    return (mapping or {}).get(key, "")
