"""The tickets' list filters, for the API and the console alike (``serviflow.filters``).

``TicketFilterSet``: a customer's tickets (``GET /api/v1/customers/{slug}/tickets/``).
``QueueFilterSet``: the unified queue over the public index (``GET /api/v1/tickets/`` and the
console's queue and customer pages); its ``ordering`` and ``cursor`` drive the keyset paging
(``tickets.index.queue``) and are only validated here.
"""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from cmdb.selectors import ci_from
from core import parsers
from core.fields import ParsedField
from people.selectors import profile_from
from serviflow.filters import (
    FilterSet,
    FlagFilter,
    IdOrWordFilter,
    IntegerFilter,
    ListFilter,
    LookupFilter,
    OneOfFilter,
    SearchFilter,
)
from tenants.access import customers_visible_to
from tenants.validators import SLUG_PATTERN
from tickets.canned.models import CannedResponse
from tickets.canned.services import offered_on as canned_offered_on
from tickets.index.models import TicketIndexEntry, TicketSearchEntry
from tickets.index.queue import DEFAULT_ORDERING, MAX_CURSOR, ORDERINGS
from tickets.index.search import (
    CANDIDATES,
    MAX_QUERY,
    NO_WORDS,
    Filters,
    ParsedQuery,
    Reader,
    parse_query,
    queue_matching,
    reader_of,
    tickets_matching,
)
from tickets.index.states import SLA_FILTERS, sla_condition
from tickets.models import Priority, Status, Ticket
from tickets.selectors import sees_private
from tickets.types.values import CHOICE_MAX, KEY_PATTERN, parse_number

TICKET_ORDERINGS = ("created_at", "updated_at", "priority")
PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


class AssigneeFilter(IdOrWordFilter):
    """``me``, ``none`` (unassigned) or an agent's id."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(words=("me", "none"), what="an agent's id", **kwargs)

    def filter(self, qs: QuerySet[Any], value: int | str | None) -> QuerySet[Any]:
        if value is None:
            return qs
        if value == "none":
            return qs.filter(assignee__isnull=True)
        user = self.parent.user  # type: ignore[attr-defined]
        return qs.filter(assignee_id=user.pk if value == "me" else value)


class FieldValueField(ParsedField):
    """``key:value``: a custom field's key (``tickets.types.values.KEY_PATTERN``) and a value."""

    def parse(self, value: Any) -> tuple[str, str]:
        text = parsers.clean_text(value, field="value").strip()
        key, colon, wanted = text.partition(":")
        if not colon or not re.fullmatch(KEY_PATTERN, key) or not wanted.strip():
            raise ValidationError({"value": ["Give a custom field and a value as key:value (laptop:Mac)."]})
        if len(wanted) > CHOICE_MAX:
            raise ValidationError({"value": [f"A value of at most {CHOICE_MAX} characters."]})
        return key, wanted.strip()


@extend_schema_field(OpenApiTypes.STR)  # parameter_schema states the rest
class FieldValueFilter(django_filters.Filter):
    """``?field=key:value``: tickets whose custom field ``key`` holds ``value`` (a text, a choice,
    one of a multiple choice's, a number or a date as written, a user's or CI's id); a
    containment test on the index's ``fields`` (GIN)."""

    field_class = FieldValueField

    def filter(self, qs: QuerySet[Any], value: tuple[str, str] | None) -> QuerySet[Any]:
        if value is None:
            return qs
        key, wanted = value
        matches = Q(fields__contains={key: wanted}) | Q(fields__contains={key: [wanted]})
        if (number := parse_number(wanted)) is not None:
            matches |= Q(fields__contains={key: number})
        return qs.filter(matches)

    def parameter_schema(self) -> dict[str, Any]:
        return {"schema": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,39}:\s*\S", "maxLength": 141}}


class SearchQueryField(ParsedField):
    """A search query: at most ``MAX_QUERY`` characters holding a word or a ticket reference."""

    def parse(self, value: Any) -> ParsedQuery:
        text = parsers.clean_text(value, field="value")
        if len(text) > MAX_QUERY:
            raise ValidationError({"value": [f"At most {MAX_QUERY} characters (got {len(text)})."]})
        query = parse_query(text)
        if query is None:
            raise ValidationError({"value": [NO_WORDS]})
        return query


@extend_schema_field(OpenApiTypes.STR)  # parameter_schema states the rest
class SearchQueryFilter(django_filters.Filter):
    """``?q=``: the tickets whose words match (``tickets.index.search``): subject, description,
    public replies, and private notes for those who may read them; or the ticket a reference
    names. Each word is a prefix and accents do not count."""

    field_class = SearchQueryField

    def filter(self, qs: QuerySet[Any], value: ParsedQuery | None) -> QuerySet[Any]:
        if value is None:
            return qs
        access = self.parent.access  # type: ignore[attr-defined]
        if qs.model is TicketIndexEntry:
            return queue_matching(qs, value)
        return tickets_matching(qs, value, customer=access.customer, private=sees_private(access))

    def parameter_schema(self) -> dict[str, Any]:
        return {"schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY, "pattern": r"\S"}}


class TicketFilterSet(FilterSet):
    q = SearchQueryFilter(help_text="Words (each a prefix, accents ignored) or a reference (ACME-12, 12)")
    status = ListFilter(allowed=Status.values, help_text="Comma-separated: open,pending,resolved,closed")
    priority = ListFilter(allowed=Priority.values, help_text="Comma-separated: P1,P2,P3,P4")
    assignee = AssigneeFilter(help_text="An agent's id, 'me' or 'none'")
    requester = LookupFilter(
        field_name="requester",
        lookup=lambda filters, text: profile_from(text, field="requester"),
        help_text="A user of this customer: id or email",
    )
    ci = LookupFilter(
        field_name="ci",
        lookup=lambda filters, text: ci_from(filters.access, text),
        help_text="A CI of this customer: id or name (403 when your access leaves out the CMDB)",
    )
    ordering = django_filters.OrderingFilter(fields=TICKET_ORDERINGS, help_text="Default -created_at")
    default_ordering = "-created_at"

    class Meta:
        model = Ticket
        fields: list[str] = []


class CursorFilter(django_filters.CharFilter):
    """A cursor the server wrote (the queue's keyset position, ``search_cursor``): a string,
    refused unless ours."""

    def parameter_schema(self) -> dict[str, Any]:
        return {"schema": {"type": "string", "minLength": 1, "maxLength": MAX_CURSOR}}


class QueueFilterSet(FilterSet):
    q = SearchQueryFilter(help_text="Words (each a prefix, accents ignored) or a reference (ACME-12)")
    status = ListFilter(allowed=Status.values, help_text="Comma-separated statuses, e.g. open,pending")
    priority = ListFilter(allowed=Priority.values, help_text="Comma-separated priorities")
    customer = ListFilter(
        field_name="customer__slug",
        pattern=SLUG_PATTERN.pattern,
        max_length=2000,
        help_text="Comma-separated slugs",
    )
    assignee = AssigneeFilter(help_text="'me', 'none' or an agent's id")
    sla = ListFilter(
        allowed=SLA_FILTERS,
        method="sla_state",
        help_text="Comma-separated SLA states of the clock shown: on_track, at_risk (past the "
        "warning share), breached, paused",
    )
    replied = FlagFilter(
        method="customer_replied",
        help_text="true: the customer wrote last after an agent's public reply; false: the others",
    )
    request_type = django_filters.CharFilter(
        field_name="request_type_name", max_length=100, help_text="A request type's name (exact)"
    )
    field = FieldValueFilter(help_text="A custom field's value, key:value (laptop:Mac)")
    ordering = OneOfFilter(
        choices=[(key, key) for key in ORDERINGS],
        method="unfiltered",
        help_text=f"One of {', '.join(ORDERINGS)} (default {DEFAULT_ORDERING}); the paging follows it",
    )

    cursor = CursorFilter(
        max_length=MAX_CURSOR, method="unfiltered", help_text="From a previous page's next/previous link"
    )
    page_size = IntegerFilter(
        minimum=1,
        maximum=MAX_PAGE_SIZE,
        method="unfiltered",
        help_text=f"1-{MAX_PAGE_SIZE}, default {PAGE_SIZE}",
    )
    count = FlagFilter(method="unfiltered", help_text="Also count every matching ticket (costly)")

    class Meta:
        model = TicketIndexEntry
        fields: list[str] = []

    def sla_state(self, qs: QuerySet[Any], name: str, value: tuple[str, ...]) -> QuerySet[Any]:
        """Rows whose SLA state, at the moment of the request, is one of these
        (``tickets.index.states``)."""
        return qs.filter(sla_condition(value, timezone.now())) if value else qs

    def customer_replied(self, qs: QuerySet[Any], name: str, value: bool) -> QuerySet[Any]:
        if not (self.data or {}).get(name):  # not asked (a flag left out reads as false)
            return qs
        return qs.filter(customer_replied=value)

    def paging(self) -> tuple[str, str | None, int, bool]:
        """Ordering, cursor, page size and whether to count, as validated."""
        data = self.form.cleaned_data
        return (
            str(data.get("ordering") or DEFAULT_ORDERING),
            data.get("cursor") or None,
            int(data.get("page_size") or PAGE_SIZE),
            bool(data.get("count")),
        )


# What a saved view may hold: the queue's filters (not its paging) and one of its orderings.
VIEW_FILTERS = ("status", "priority", "customer", "assignee", "sla", "replied", "request_type", "field")


def view_filters(filters: object, ordering: object, *, user: Any) -> tuple[dict[str, str], str]:
    """A saved view's filters and ordering, checked by the queue's own FilterSet: a view holds
    only what the queue accepts (ValidationError naming ``filters`` or ``ordering``). Values are
    kept as the query string would carry them; empty ones are dropped."""
    if not isinstance(filters, dict):
        raise ValidationError({"filters": ['An object of queue filters, e.g. {"status": "open"}.']})
    unknown = sorted(str(name) for name in filters if name not in VIEW_FILTERS)
    if unknown:
        raise ValidationError(
            {"filters": [f"Unknown filter {', '.join(unknown)}; use {', '.join(VIEW_FILTERS)}."]}
        )
    if any(not isinstance(value, str) for value in filters.values()):
        raise ValidationError({"filters": ["Each filter's value is text, as in the query string."]})
    kept = {name: value for name, value in filters.items() if value}
    data = QueryDict(mutable=True)
    data.update(kept)
    if ordering is not None:
        data["ordering"] = str(ordering)
    filterset = QueueFilterSet(data, TicketIndexEntry.objects.none(), user=user)
    if not filterset.is_valid():
        problems: dict[str, list[str]] = {}
        for name, messages in filterset.errors.items():
            key = "ordering" if name == "ordering" else "filters"
            problems.setdefault(key, []).extend(
                str(message) if key == "ordering" else f"{name}: {message}" for message in messages
            )
        raise ValidationError(problems)
    return kept, str(filterset.form.cleaned_data.get("ordering") or "next_due")


SEARCH_PAGE_SIZE, MAX_SEARCH_PAGE_SIZE = 20, 100
CURSOR_SALT = "serviflow.search.cursor"
SEARCH_CURSOR_REFUSED = "This cursor is not valid; start from the first page."


def search_cursor(offset: int) -> str:
    """The next page of a search: its offset, signed (a cursor is only ever one we wrote)."""
    return signing.dumps(offset, salt=CURSOR_SALT)


class SearchFilterSet(FilterSet):
    """``GET /api/v1/search/`` and the console's and portal's search pages: validated here, run by
    ``tickets.index.search.search_page`` (``search_args``)."""

    q = SearchQueryFilter(
        required=True,
        method="unfiltered",
        help_text="Words (each a prefix, accents ignored) or a reference (ACME-12; 12 with one customer)",
    )
    customer = ListFilter(
        pattern=SLUG_PATTERN.pattern, max_length=2000, method="unfiltered", help_text="Comma-separated slugs"
    )
    status = ListFilter(allowed=Status.values, method="unfiltered", help_text="Comma-separated statuses")
    priority = ListFilter(
        allowed=Priority.values, method="unfiltered", help_text="Comma-separated priorities"
    )
    assignee = AssigneeFilter(method="unfiltered", help_text="'me', 'none' or an agent's id")
    cursor = CursorFilter(
        max_length=MAX_CURSOR, method="unfiltered", help_text="From a previous page's next link"
    )
    page_size = IntegerFilter(
        minimum=1,
        maximum=MAX_SEARCH_PAGE_SIZE,
        method="unfiltered",
        help_text=f"1-{MAX_SEARCH_PAGE_SIZE}, default {SEARCH_PAGE_SIZE}",
    )

    class Meta:
        model = TicketSearchEntry
        fields: list[str] = []

    def search_args(self) -> tuple[Reader, ParsedQuery, Filters, int, int]:
        """Who searches what (their reach, the query, the filters), the offset and the page size,
        as validated; a cursor that is not ours is a ValidationError naming it."""
        data = self.form.cleaned_data
        offset = 0
        if data.get("cursor"):
            try:
                offset = signing.loads(data["cursor"], salt=CURSOR_SALT)
            except signing.BadSignature:
                offset = -1
            if not isinstance(offset, int) or isinstance(offset, bool) or not 0 < offset <= 10 * CANDIDATES:
                raise ValidationError({"cursor": [SEARCH_CURSOR_REFUSED]})
        user = self.user
        assignee = data.get("assignee")
        filters = Filters(
            statuses=tuple(data.get("status") or ()),
            priorities=tuple(data.get("priority") or ()),
            assignee=user.pk if assignee == "me" else assignee,  # type: ignore[union-attr]
        )
        reader = reader_of(user, customers=tuple(data.get("customer") or ()))  # type: ignore[arg-type]
        return reader, data["q"], filters, offset, int(data.get("page_size") or SEARCH_PAGE_SIZE)


class CannedResponseFilterSet(FilterSet):
    customer = django_filters.CharFilter(
        method="offered_on",
        max_length=40,
        help_text="A customer's slug: only what that customer's tickets are offered (shared, "
        "your own and that customer's; a customer you do not work adds nothing)",
    )
    search = SearchFilter(fields=("name", "body"), max_length=200, help_text="Text in the name or the body")

    class Meta:
        model = CannedResponse
        fields: list[str] = []

    def offered_on(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        """Shared and personal ones, and that customer's if the caller works it (a customer they
        do not work, or none of that name, adds nothing: as for every list filter)."""
        if not value:
            return qs
        customer = None
        if self.user is not None and SLUG_PATTERN.fullmatch(value):
            customer = customers_visible_to(self.user).filter(slug=value).first()
        return canned_offered_on(qs, customer)
