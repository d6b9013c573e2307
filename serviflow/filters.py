"""List filters, declared once per app as django-filter FilterSets (``<app>/filtersets.py``) and
used alike by the API (``FilterBackend``: a bad value is a 400 naming the parameter) and the
console (``filtered``: the page shows the same sentences). Values are read with the fields of
``core.fields``, so "²", NUL characters and out-of-range numbers are refused the same way
everywhere.

A FilterSet may need to know who is asking (``access``: a customer's CIs visible to them, the
caller for "me"); the backend and ``filtered`` hand it over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import QueryDict
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

from core.fields import (
    ChoicesField,
    DayField,
    FlagField,
    IdOrNameField,
    IdOrWordField,
    IntegerField,
    OneOfField,
)
from core.parsers import BIGINT_MAX, IdOrName

if TYPE_CHECKING:
    from accounts.models import User
    from tenants.access import CustomerAccess


class FilterSet(django_filters.FilterSet):
    """Knows who is asking: ``access`` inside a customer, ``user`` always. With
    ``default_ordering``, rows come in the order asked (``ordering``) or that one, ties broken by
    id in the same direction, so that pages never repeat or skip a row."""

    default_ordering: str | None = None

    def __init__(
        self,
        data: QueryDict | dict[str, Any] | None = None,
        queryset: QuerySet[Any] | None = None,
        *,
        request: Any = None,
        access: CustomerAccess | None = None,
        user: User | None = None,
        prefix: str | None = None,
    ) -> None:
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.access = access
        self.user = user or (access.user if access is not None else getattr(request, "user", None))

    @property
    def qs(self) -> QuerySet[Any]:
        rows: QuerySet[Any] = super().qs
        if self.default_ordering is None:
            return rows
        first = str(rows.query.order_by[0]) if rows.query.order_by else self.default_ordering
        return rows.order_by(first, "-id" if first.startswith("-") else "id")

    def unfiltered(self, qs: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        """The ``method`` of a parameter that is validated but filters nothing (a sort order that
        drives paging, say)."""
        return qs


def refusal(filterset: django_filters.FilterSet) -> ValidationError:
    """The FilterSet's refusal, one list of messages per parameter."""
    return ValidationError({name: list(messages) for name, messages in filterset.errors.items()})


class FilterBackend(DjangoFilterBackend):
    """DRF's django-filter backend, handing the view's customer access to the FilterSet."""

    def get_filterset_kwargs(self, request: Any, queryset: QuerySet[Any], view: Any) -> dict[str, Any]:
        return super().get_filterset_kwargs(request, queryset, view) | {
            "access": getattr(view, "access", None)
        }

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        """As django-filter's, but a refusal is raised as the FilterSet states it: django-filter's
        own translation formats each message with ``%``, and a message that quotes the caller's
        value (``%d``, ``%17``) would fail there."""
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise refusal(filterset)
        rows: QuerySet[Any] = filterset.qs
        return rows


def filtered(
    filterset_class: type[FilterSet],
    data: QueryDict | dict[str, Any],
    queryset: QuerySet[Any],
    *,
    access: CustomerAccess | None = None,
    user: User | None = None,
) -> QuerySet[Any]:
    """The queryset filtered by ``data`` (a page's query string); ValidationError naming the bad
    parameters, for ``serviflow.pages.problem_of``."""
    filterset = filterset_class(data, queryset, access=access, user=user)
    if not filterset.is_valid():
        raise refusal(filterset)
    return filterset.qs


class ListFilter(django_filters.Filter):
    """``?status=open,pending``: a comma-separated list, each value one of ``allowed`` (any
    value, up to ``max_length``, without ``allowed``)."""

    field_class = ChoicesField

    def __init__(
        self,
        *,
        allowed: Iterable[str] | None = None,
        pattern: str | None = None,
        max_length: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            allowed=tuple(allowed) if allowed is not None else None,
            pattern=pattern,
            max_length=max_length,
            **kwargs,
        )

    def filter(self, qs: QuerySet[Any], value: tuple[str, ...]) -> QuerySet[Any]:
        return qs.filter(**{f"{self.field_name}__in": value}) if value else qs

    def parameter_schema(self) -> dict[str, Any]:
        allowed = self.extra.get("allowed")
        items: dict[str, Any] = {"type": "string", "maxLength": self.extra.get("max_length", 100)}
        if self.extra.get("pattern"):
            items["pattern"] = self.extra["pattern"]
        if allowed is not None:
            items = {"type": "string", "enum": list(allowed)}
        return {"schema": {"type": "array", "items": items}, "style": "form", "explode": False}


class OneOfFilter(django_filters.ChoiceFilter):
    """One of ``choices``; a refusal lists them."""

    field_class = OneOfField


class StateFilter(OneOfFilter):
    """``?state=active``: rows by ``is_active``, in words (``states``: word -> True, False, or
    None for every row); without the parameter, the first word's rows (the active ones)."""

    def __init__(self, *, states: dict[str, bool | None], **kwargs: Any) -> None:
        self.states = states
        super().__init__(choices=[(word, word) for word in states], **kwargs)

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        active = self.states[value or next(iter(self.states))]
        return qs if active is None else qs.filter(is_active=active)


class SearchFilter(django_filters.CharFilter):
    """``?search=text``: rows where any of ``fields`` contains the text, in any case."""

    def __init__(self, *, fields: tuple[str, ...], max_length: int = 254, **kwargs: Any) -> None:
        super().__init__(max_length=max_length, **kwargs)
        self.fields = fields

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        text = (value or "").strip()
        if not text:
            return qs
        wanted = Q()
        for name in self.fields:
            wanted |= Q(**{f"{name}__icontains": text})
        return qs.filter(wanted)


class IntegerFilter(django_filters.Filter):
    """A bounded whole number (``?page_size=``); the FilterSet's ``method`` uses it."""

    field_class = IntegerField

    def parameter_schema(self) -> dict[str, Any]:
        return {
            "schema": {"type": "integer", "minimum": self.extra["minimum"], "maximum": self.extra["maximum"]}
        }


class LookupFilter(django_filters.CharFilter):
    """An object the caller names as for a write (an id, an email, a name), looked up by
    ``lookup(filterset, text)``, which refuses one that is not there (400 naming the
    parameter, or the selector's own 403) as it would in a write."""

    def __init__(self, *, lookup: Callable[[Any, str], Model | None], **kwargs: Any) -> None:
        super().__init__(max_length=254, **kwargs)
        self.lookup = lookup

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        return qs.filter(**{str(self.field_name): self.lookup(self.parent, value)})  # type: ignore[attr-defined]

    def parameter_schema(self) -> dict[str, Any]:
        return IdOrNameFilter.parameter_schema(self)  # type: ignore[arg-type]


class IdOrWordFilter(django_filters.Filter):
    """An object id or one of a few words (``me``, ``none``); subclasses filter by it."""

    field_class = IdOrWordField

    def __init__(self, *, words: Iterable[str], what: str, **kwargs: Any) -> None:
        super().__init__(words=tuple(words), what=what, **kwargs)

    def parameter_schema(self) -> dict[str, Any]:
        return {
            "schema": {
                "anyOf": [
                    {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX},
                    {"type": "string", "enum": list(self.extra["words"])},
                ]
            }
        }


# A day, whatever the model field it is compared with; the years core.parsers takes (1970 to 8999).
DAY_SCHEMA = {"type": "string", "format": "date", "pattern": r"^(19[7-9]\d|[2-8]\d{3})-\d{2}-\d{2}$"}


@extend_schema_field(DAY_SCHEMA)
class DayFilter(django_filters.Filter):
    """A date (``YYYY-MM-DD``), read by ``core.fields.DayField``."""

    field_class = DayField


class IdOrNameFilter(django_filters.Filter):
    """An object named by id or by name (or email): rows whose ``id_field`` is the id, or whose
    ``name_field`` is the name (case-insensitive). Nothing matches a name nobody has."""

    field_class = IdOrNameField

    def __init__(self, *, id_field: str, name_field: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.id_field, self.name_field = id_field, name_field

    def filter(self, qs: QuerySet[Any], value: IdOrName | None) -> QuerySet[Any]:
        if value is None:
            return qs
        if value.id is not None:
            return qs.filter(**{self.id_field: value.id})
        return qs.filter(**{f"{self.name_field}__iexact": value.name})

    def parameter_schema(self) -> dict[str, Any]:
        return {
            "schema": {
                "anyOf": [
                    {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX},
                    {"type": "string", "minLength": 1, "maxLength": 254},
                ]
            }
        }


class FlagFilter(django_filters.Filter):
    """``?unread=true``: ``true``/``false`` (``1``/``0``); the FilterSet's ``method`` applies it."""

    field_class = FlagField

    def parameter_schema(self) -> dict[str, Any]:
        return {"schema": {"type": "boolean"}}
