"""Saved views of the unified queue: named filters and a sort, personal or shared.

Every provider agent sees the built-in views, their own and the shared ones; only the owner or
a provider admin changes or deletes a view, and nobody a built-in one. Filters arrive already
checked by the queue's FilterSet (the channels call ``tickets.filtersets.view_filters``), so a
saved view never holds input the queue would refuse. Saves are audited (``audit.registry``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import User
from core.changes import UNSET, Changes
from tickets.index.models import SavedView

MAX_VIEWS = 50  # personal views per agent
NAME_MAX = 60


def views_visible_to(user: User) -> QuerySet[SavedView]:
    """Built-in views, the agent's own and the shared ones, in tab order."""
    return SavedView.objects.filter(Q(builtin=True) | Q(owner=user) | Q(shared=True)).select_related("owner")


def view_for(user: User, view_id: int) -> SavedView:
    try:
        return views_visible_to(user).get(pk=view_id)
    except SavedView.DoesNotExist:
        raise Http404 from None


def may_change(user: User, view: SavedView) -> bool:
    return not view.builtin and (view.owner_id == user.pk or user.is_provider_admin)


def _clean_name(name: str) -> str:
    text = " ".join((name or "").split())
    if not text:
        raise ValidationError({"name": ["A view needs a name."]})
    if len(text) > NAME_MAX:
        raise ValidationError({"name": [f"At most {NAME_MAX} characters (got {len(text)})."]})
    return text


def _save(view: SavedView, fields: list[str] | None = None) -> SavedView:
    clash = SavedView.objects.filter(Q(builtin=True) | Q(owner_id=view.owner_id), name__iexact=view.name)
    if clash.exclude(pk=view.pk).exists():
        raise ValidationError({"name": [f"You already have a view named '{view.name}'."]})
    try:
        with transaction.atomic():
            view.save(update_fields=fields)
    except IntegrityError:  # a concurrent save of the same name
        raise ValidationError({"name": [f"You already have a view named '{view.name}'."]}) from None
    return view


@dataclass(frozen=True)
class ViewFields(Changes):
    name: str = UNSET
    shared: bool = UNSET
    filters: dict[str, str] = UNSET
    ordering: str = UNSET


def view_create(*, by: User, fields: ViewFields) -> SavedView:
    if SavedView.objects.filter(owner=by).count() >= MAX_VIEWS:
        raise ValidationError({"name": [f"At most {MAX_VIEWS} views each; delete one first."]})
    given = fields.given()
    view = SavedView(
        owner=by,
        name=_clean_name(given.get("name", "")),
        shared=bool(given.get("shared", False)),
        filters=dict(given.get("filters") or {}),
        ordering=given.get("ordering") or "next_due",
    )
    return _save(view)


def view_update(*, by: User, view: SavedView, fields: ViewFields) -> SavedView:
    _require_change(by, view)
    given = fields.given()
    if "name" in given:
        given["name"] = _clean_name(given["name"])
    for name, value in given.items():
        setattr(view, name, value)
    return _save(view, [*given, "updated_at"] if given else ["updated_at"])


def view_delete(*, by: User, view: SavedView) -> None:
    _require_change(by, view)
    view.delete()


def _require_change(by: User, view: SavedView) -> None:
    if view.builtin:
        raise PermissionDenied("Built-in views cannot be changed or deleted.")
    if not may_change(by, view):
        raise PermissionDenied("Only the view's owner or a provider admin can change it.")
