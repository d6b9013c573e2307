"""Full-text search over every customer's tickets, from the public schema
(``TicketSearchEntry``, migration ticket_index 0004).

Written in the ticket's transaction (``search_write`` when a ticket is created or its requester
changes, ``search_add_comment`` with every reply and note), so a reply is findable the moment
it is saved. Read by ``search_page`` (``GET /api/v1/search/``, the console's and the portal's
search pages) and ``matching`` (``?q=`` on the ticket lists).

What a query means (``parse_query``): its words, each a prefix ("print" finds "printer"),
accents ignored ("réseau" = "reseau"), every word required; the tsquery is built from the
words, never from the text as typed. A ticket reference (``ACME-1042``, ``acme-1042``; a bare
``1042`` inside one customer) names a ticket, which comes first.

Ranking is bounded: the matches are ranked among the newest ``CANDIDATES`` matching tickets
(by when the ticket was indexed), so a word present in a third of a million tickets costs what
a rare one does. Older matches of a very common word are reached by adding a word or a filter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts.models import CustomerRole, User
from tenants.access import customers_visible_to
from tenants.models import Customer, CustomerSettings
from tickets.index.models import SEARCH_CONFIG, TicketIndexEntry, TicketSearchEntry
from tickets.index.services import Drift
from tickets.models import Comment, RequestForm, Ticket
from tickets.types.values import form_fields, visible_fields

MAX_QUERY = 200  # characters of a query
MAX_WORDS = 8  # words of a query that count
CANDIDATES = 1000  # newest matches ranked (see above)
LATERAL_MAX = 50  # a reader of at most this many customers has each of them walked on its own
REFERENCE_RANK = 2.0  # the rank of the ticket a reference names: above every match (0..1)
SEPARATOR = "\n\n"  # between the description and each reply in the stored texts
SNIPPET_SOURCE = 20_000  # characters of a ticket's text a snippet is looked for in

_WORD = re.compile(r"\w+")
_REFERENCE = re.compile(r"([A-Za-z][A-Za-z0-9]{1,9})-([0-9]{1,9})")
_NUMBER = re.compile(r"#?([0-9]{1,9})")
# ts_headline's markers around a match: private-use characters, taken out of the text before.
_OPEN, _CLOSE = "\ue000", "\ue001"
SEARCH, INDEX = TicketSearchEntry._meta.db_table, TicketIndexEntry._meta.db_table


@dataclass(frozen=True)
class Reference:
    """``ACME-1042`` (prefix ``ACME``) or a bare ``1042`` (prefix None: within one customer)."""

    prefix: str | None
    number: int


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    words: tuple[str, ...]
    reference: Reference | None

    @property
    def tsquery(self) -> str:
        """Every word as a quoted prefix, all required: ``'print':* & 'reseau':*``. The words are
        runs of letters and digits, so they cannot carry a quote or an operator."""
        return " & ".join(f"'{word}':*" for word in self.words)


NO_WORDS = "Give a word or a ticket reference (such as ACME-1042), not only spaces."
# What a blank query is made of: whitespace as OpenAPI's patterns (ECMAScript \s) know it too.
_BLANK = re.compile(r"[\s\ufeff]+")


def parse_reference(text: str) -> Reference | None:
    """A ticket's reference as people quote it (``ACME-12``, any case), or None."""
    if match := _REFERENCE.fullmatch(text):
        return Reference(prefix=match[1].upper(), number=int(match[2]))
    return None


def parse_query(text: str) -> ParsedQuery | None:
    """The words and the reference of a query (already checked for length and NUL by its
    field); None when it is blank. A query of punctuation only matches nothing."""
    text = _BLANK.sub(" ", text).strip()
    if not text:
        return None
    reference = parse_reference(text)
    if reference is None and (match := _NUMBER.fullmatch(text)):
        reference = Reference(prefix=None, number=int(match[1]))
    words = tuple(dict.fromkeys(word.lower() for word in _WORD.findall(text)))[:MAX_WORDS]
    return ParsedQuery(text=text, words=words, reference=reference)


# --- writing ---------------------------------------------------------------------------------------


def search_write(*, customer: Customer, tickets: Iterable[Ticket]) -> None:
    """Insert the search rows of new tickets, or bring their ticket-level columns (subject,
    number, requester) up to date; the texts of an existing row are kept (replies append)."""
    rows = [
        TicketSearchEntry(
            customer=customer,
            ticket_id=ticket.pk,
            number=ticket.number,
            requester_user_id=ticket.requester_user_id,
            subject=ticket.subject,
            public_text=ticket.description,
            private_text="",
            fields_text=fields_text(ticket),
        )
        for ticket in tickets
    ]
    if rows:
        TicketSearchEntry.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["customer", "ticket_id"],
            update_fields=["number", "requester_user", "subject", "fields_text"],
        )


def fields_text(ticket: Ticket) -> str:
    """The words of the ticket's custom values the customer sees, by key (a multiple choice's
    each), as ``_derived`` reads them from the schema: what the search finds the ticket by."""
    if ticket.request_form_id is None or not ticket.fields:
        return ""
    form = ticket.request_form
    assert form is not None  # noqa: S101 (narrowing for the type checker)
    shown = {field.key for field in visible_fields(form_fields(form.definitions), customer_side=True)}
    words: list[str] = []
    for key in sorted(key for key in ticket.fields if key in shown):
        value = ticket.fields[key]
        words.append(" ".join(value) if isinstance(value, list) else str(value))
    return " ".join(words)


def search_add_comment(*, customer: Customer, ticket: Ticket, body: str, public: bool) -> None:
    """Append a reply to the ticket's public text, or a private note to its private text: one
    UPDATE; PostgreSQL regenerates that vector."""
    column = "public_text" if public else "private_text"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TicketSearchEntry._meta.db_table} SET {column} ="  # noqa: S608 (column is ours)
            f" CASE WHEN {column} = '' THEN %s ELSE {column} || %s || %s END"
            " WHERE customer_id = %s AND ticket_id = %s",
            [body, SEPARATOR, body, customer.pk, ticket.pk],
        )


# --- the rebuild (manage.py rebuild_ticket_index) -----------------------------------------------

SEARCH_COLUMNS = ("number", "requester_user_id", "subject", "public_text", "private_text", "fields_text")


def _texts(public: bool) -> str:
    """The stored text as the schema derives it: bodies in the order they were written."""
    table = Comment._meta.db_table
    return (
        f"(SELECT string_agg(c.body, %s ORDER BY c.id) FROM {table} c"  # noqa: S608
        f" WHERE c.ticket_id = t.id AND {'' if public else 'NOT '}c.public)"
    )


def _fields_text() -> str:
    """``fields_text`` as the schema derives it (``fields_text`` in Python): the values of the
    fields the ticket's form shows the customer, by key in byte order, a list's items each."""
    forms = RequestForm._meta.db_table
    value = (
        "CASE jsonb_typeof(v.value) WHEN 'array' THEN"
        " (SELECT string_agg(e, ' ' ORDER BY n) FROM jsonb_array_elements_text(v.value)"
        " WITH ORDINALITY AS a(e, n)) ELSE v.value #>> '{}' END"
    )
    return (
        f"COALESCE((SELECT string_agg({value}, ' ' ORDER BY v.key COLLATE \"C\")"  # noqa: S608 (our table names)
        f" FROM jsonb_each(t.fields) v JOIN {forms} f ON f.id = t.request_form_id"
        " WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(f.definitions) d"
        " WHERE d->>'key' = v.key AND COALESCE((d->>'customer_visible')::boolean, true))), '')"
    )


def _derived() -> tuple[str, list[str]]:
    """The search columns of every ticket of the current schema, as the workflows write them:
    a query (ticket id first) and its parameters."""
    return (
        "SELECT t.id, t.number, t.requester_user_id, t.subject,"  # noqa: S608 (our table names)
        f" concat_ws(%s, NULLIF(t.description, ''), {_texts(True)}),"
        f" COALESCE({_texts(False)}, ''),"
        f" {_fields_text()}"
        f" FROM {Ticket._meta.db_table} t",
        [SEPARATOR, SEPARATOR, SEPARATOR],
    )


def search_expected() -> dict[int, dict[str, Any]]:
    """What each ticket of the current customer's schema should have in its search row."""
    query, params = _derived()
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return {row[0]: dict(zip(SEARCH_COLUMNS, row[1:], strict=True)) for row in cursor.fetchall()}


def search_compare(*, customer: Customer) -> tuple[Drift, dict[int, dict[str, Any]]]:
    """Compare the search rows of ``customer`` with its schema (run inside it). Returns the
    drift and the rows to write (ticket id -> columns)."""
    drift = Drift()
    expected = search_expected()
    stored = {
        row["ticket_id"]: row
        for row in TicketSearchEntry.objects.filter(customer=customer).values("ticket_id", *SEARCH_COLUMNS)
    }
    to_write: dict[int, dict[str, Any]] = {}
    for ticket_id, columns in expected.items():
        row = stored.pop(ticket_id, None)
        if row is None:
            drift.missing.append(ticket_id)
        elif any(row[name] != value for name, value in columns.items()):
            drift.stale.append(ticket_id)
        else:
            continue
        to_write[ticket_id] = columns
    drift.orphaned = sorted(stored)
    return drift, to_write


def search_repair(*, customer: Customer, to_write: dict[int, dict[str, Any]], orphaned: list[int]) -> None:
    rows = [
        TicketSearchEntry(customer=customer, ticket_id=ticket_id, **columns)
        for ticket_id, columns in to_write.items()
    ]
    TicketSearchEntry.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["customer", "ticket_id"],
        update_fields=[name.removesuffix("_id") for name in SEARCH_COLUMNS],
    )
    if orphaned:
        TicketSearchEntry.objects.filter(customer=customer, ticket_id__in=orphaned).delete()


# --- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """What a person may search: which customers, whose tickets, private notes or not."""

    customer_ids: tuple[int, ...]
    requester: int | None  # a customer user who is not the customer's admin: their own only
    private: bool
    # When the reader sees every active customer: the others (archived), so that the statement
    # names a few customers to leave out rather than a thousand to keep (planning cost).
    excluded: tuple[int, ...] | None = None


def reader_of(user: User, *, customers: Sequence[str] = ()) -> Reader:
    """``user``'s reach (narrowed to the slugs ``customers`` when given): the active customers
    they may see, as ``tenants.access`` decides."""
    visible = customers_visible_to(user).filter(is_active=True)
    if customers:
        visible = visible.filter(slug__in=customers)
    ids = tuple(visible.order_by("pk").values_list("pk", flat=True))
    own_only = user.is_customer_user and user.customer_role not in (CustomerRole.ADMIN, CustomerRole.AGENT)
    excluded = None
    if len(ids) > LATERAL_MAX:
        everyone = Customer.objects.customers()
        if len(ids) == everyone.filter(is_active=True).count():
            excluded = tuple(everyone.filter(is_active=False).values_list("pk", flat=True))
    return Reader(
        customer_ids=ids,
        requester=user.pk if own_only else None,
        private=user.is_agent_level,
        excluded=excluded,
    )


@dataclass(frozen=True)
class Filters:
    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    assignee: int | str | None = None  # an agent's id, "none"; "me" is resolved by the caller


@dataclass(frozen=True)
class Hit:
    customer_slug: str
    customer_name: str
    ticket_id: int
    reference: str
    subject: str
    status: str
    priority: str
    assignee_name: str | None
    snippet: SafeString
    rank: float


@dataclass(frozen=True)
class SearchPage:
    hits: list[Hit]
    next_offset: int | None


def _visibility(reader: Reader, params: dict[str, Any], alias: str = "s") -> str:
    if reader.excluded is not None:
        params["excluded"] = list(reader.excluded)
        sql = f"NOT ({alias}.customer_id = ANY(%(excluded)s))"
    else:
        params["customers"] = list(reader.customer_ids)
        sql = f"{alias}.customer_id = ANY(%(customers)s)"
    if reader.requester is not None:
        params["requester"] = reader.requester
        sql += f" AND {alias}.requester_user_id = %(requester)s"
    return sql


def _filtering(filters: Filters, params: dict[str, Any]) -> str:
    """Conditions on the ticket's index row ``i`` (status, priority, assignee)."""
    sql = ""
    if filters.statuses:
        params["statuses"] = list(filters.statuses)
        sql += " AND i.status = ANY(%(statuses)s)"
    if filters.priorities:
        params["priorities"] = list(filters.priorities)
        sql += " AND i.priority = ANY(%(priorities)s)"
    if filters.assignee == "none":
        sql += " AND i.assignee_id IS NULL"
    elif filters.assignee is not None:
        params["assignee"] = int(filters.assignee)
        sql += " AND i.assignee_id = %(assignee)s"
    return sql


def _references(reader: Reader, query: ParsedQuery, filters: Filters, params: dict[str, Any]) -> str:
    """The search rows a reference names, as a query (empty when there is none to look for): a
    bare number only when the reader is narrowed to one customer."""
    reference = query.reference
    if reference is None or (reference.prefix is None and len(reader.customer_ids) != 1):
        return ""
    params["number"] = reference.number
    sql = (
        f"SELECT s.id, s.customer_id, s.ticket_id, {REFERENCE_RANK}::float8 AS rank FROM {SEARCH} s"  # noqa: S608 (our table names; values are parameters)
        f" JOIN {INDEX} i ON i.customer_id = s.customer_id AND i.ticket_id = s.ticket_id"
        f" WHERE {_visibility(reader, params)} AND s.number = %(number)s{_filtering(filters, params)}"
    )
    if reference.prefix is not None:
        params["prefix"] = reference.prefix
        sql += (
            f" AND s.customer_id IN (SELECT customer_id FROM {CustomerSettings._meta.db_table}"  # noqa: S608 (our table names; values are parameters)
            " WHERE ticket_prefix = %(prefix)s)"
        )
    return sql


def _matches(reader: Reader, query: ParsedQuery, filters: Filters, params: dict[str, Any]) -> str:
    """The newest ``CANDIDATES`` rows matching the words, ranked (normalised into 0..1 by
    length and by rank/(rank+1), so a reference's 2.0 stays above them). The tsquery is a
    constant of the statement, so that the planner knows how common its words are: a rare word
    is read from the GIN indexes, a common one by walking the rows newest first. A reader of a
    few customers walks each of them on its own (``ticket_search_customer_newest``)."""
    params["tsquery"] = query.tsquery
    params["candidates"] = CANDIDATES
    tsquery = "to_tsquery(%(config)s::regconfig, %(tsquery)s)"
    vector = "s.public_vector || s.fields_vector" + (" || s.private_vector" if reader.private else "")
    found = f"s.public_vector @@ {tsquery} OR s.fields_vector @@ {tsquery}"
    if reader.private:
        found = f"{found} OR s.private_vector @@ {tsquery}"
    found = f"({found})"
    where = _filtering(filters, params)
    joined = (
        f" JOIN {INDEX} i ON i.customer_id = s.customer_id AND i.ticket_id = s.ticket_id" if where else ""
    )
    newest = "ORDER BY s.id DESC LIMIT %(candidates)s"
    if reader.excluded is None and len(reader.customer_ids) <= LATERAL_MAX:
        params["customers"] = list(reader.customer_ids)
        own = " AND s.requester_user_id = %(requester)s" if reader.requester is not None else ""
        params["requester"] = reader.requester
        candidates = (
            "SELECT x.* FROM unnest(%(customers)s::bigint[]) AS visible(id), LATERAL ("  # noqa: S608
            f"SELECT s.id, s.customer_id, s.ticket_id, {vector} AS vector FROM {SEARCH} s{joined}"
            f" WHERE s.customer_id = visible.id{own} AND {found}{where} {newest}) x"
            " ORDER BY x.id DESC LIMIT %(candidates)s"
        )
    else:
        candidates = (
            f"SELECT s.id, s.customer_id, s.ticket_id, {vector} AS vector FROM {SEARCH} s{joined}"  # noqa: S608
            f" WHERE {_visibility(reader, params)} AND {found}{where} {newest}"
        )
    rank = f"ts_rank(c.vector, {tsquery}, 33)::float8"
    return f"SELECT c.id, c.customer_id, c.ticket_id, {rank} AS rank FROM ({candidates}) c"  # noqa: S608


def search_page(
    reader: Reader, query: ParsedQuery, filters: Filters, *, offset: int, size: int
) -> SearchPage:
    """One page of hits: the referenced ticket first, then the matches by rank (newest first
    on ties). ``offset`` counts hits; the next page's offset is None after the last."""
    if not reader.customer_ids:
        return SearchPage(hits=[], next_offset=None)
    params: dict[str, Any] = {"config": SEARCH_CONFIG}
    parts = [part for part in (_references(reader, query, filters, params),) if part]
    if query.words:
        parts.append(_matches(reader, query, filters, params))
    if not parts:
        return SearchPage(hits=[], next_offset=None)
    params |= {"offset": offset, "limit": size + 1}
    text = "public_text || %(separator)s || private_text" if reader.private else "public_text"
    params |= {"separator": SEPARATOR, "source": SNIPPET_SOURCE, "options": _HEADLINE}
    # Several parts may name one ticket (a reference that also matches): its best rank counts.
    sql = (
        "WITH q AS (SELECT to_tsquery(%(config)s::regconfig, %(tsquery)s) AS query),"  # noqa: S608 (our table names; values are parameters)
        f" found AS ({' UNION ALL '.join(parts)}),"
        " best AS (SELECT DISTINCT ON (id) * FROM found ORDER BY id, rank DESC),"
        " page AS (SELECT * FROM best ORDER BY rank DESC, id DESC OFFSET %(offset)s LIMIT %(limit)s)"
        " SELECT c.slug, c.name, p.ticket_id, i.number, i.subject, i.status, i.priority, u.name,"
        f" ts_headline(%(config)s::regconfig, left(translate({text}, %(markers)s, ''), %(source)s),"
        " q.query, %(options)s), p.rank"
        f" FROM page p JOIN {SEARCH} s ON s.id = p.id"
        f" JOIN {INDEX} i ON i.customer_id = p.customer_id AND i.ticket_id = p.ticket_id"
        f" JOIN {Customer._meta.db_table} c ON c.id = p.customer_id"
        f" LEFT JOIN {User._meta.db_table} u ON u.id = i.assignee_id, q"
        " ORDER BY p.rank DESC, p.id DESC"
    )
    params.setdefault("tsquery", "")
    params["markers"] = _OPEN + _CLOSE
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    hits = [
        Hit(
            customer_slug=row[0],
            customer_name=row[1],
            ticket_id=row[2],
            reference=row[3],
            subject=row[4],
            status=row[5],
            priority=row[6],
            assignee_name=row[7],
            snippet=highlighted(row[8]),
            rank=round(float(row[9]), 6),
        )
        for row in rows[:size]
    ]
    return SearchPage(hits=hits, next_offset=offset + size if len(rows) > size else None)


_HEADLINE = (
    f'StartSel={_OPEN}, StopSel={_CLOSE}, MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "'
)


def highlighted(headline: str) -> SafeString:
    """ts_headline's text made safe here: every piece escaped, our markers turned into
    ``<mark>``; nothing of the text itself is trusted."""
    out: list[str] = []
    inside = False
    for piece in re.split(f"([{_OPEN}{_CLOSE}])", headline or ""):
        if piece == _OPEN and not inside:
            out.append("<mark>")
            inside = True
        elif piece == _CLOSE and inside:
            out.append("</mark>")
            inside = False
        elif piece not in (_OPEN, _CLOSE):
            out.append(str(escape(piece)))
    if inside:
        out.append("</mark>")
    return mark_safe("".join(out))  # noqa: S308 (built above from escaped pieces and our tags)


# --- ?q= on the ticket lists ----------------------------------------------------------------------


def _words_match(query: ParsedQuery, *, private: bool) -> Q:
    from django.contrib.postgres.search import SearchQuery

    tsquery = SearchQuery(query.tsquery, search_type="raw", config=SEARCH_CONFIG)
    found = Q(public_vector=tsquery) | Q(fields_vector=tsquery)
    if private:
        found |= Q(private_vector=tsquery)
    return found


def queue_matching(entries: QuerySet[Any], query: ParsedQuery) -> QuerySet[Any]:
    """Unified-queue rows (``TicketIndexEntry``, agents: private notes count) that match."""
    wanted = Q(pk__in=[])
    if query.words:
        rows = TicketSearchEntry.objects.filter(
            _words_match(query, private=True),
            customer_id=OuterRef("customer_id"),
            ticket_id=OuterRef("ticket_id"),
        )
        wanted |= Q(Exists(rows))
    reference = query.reference
    if reference is not None and reference.prefix is not None:
        wanted |= Q(number=f"{reference.prefix}-{reference.number}")
    return entries.filter(wanted)


def tickets_matching(
    tickets: QuerySet[Ticket], query: ParsedQuery, *, customer: Customer, private: bool
) -> QuerySet[Ticket]:
    """A customer's tickets (run inside its schema) that match: the words (private notes only
    with ``private``) or the reference, with or without the customer's prefix."""
    wanted = Q(pk__in=[])
    if query.words:
        ids = TicketSearchEntry.objects.filter(_words_match(query, private=private), customer=customer)
        wanted |= Q(pk__in=ids.values("ticket_id"))
    reference = query.reference
    if reference is not None and reference.prefix in (None, customer.settings.ticket_prefix):
        wanted |= Q(number=reference.number)
    return tickets.filter(wanted)


def search_fill(*, customer: Customer) -> int:
    """Write the search rows of every ticket of the current customer's schema in one statement
    (set-based: for benchmarks and first fills; ``search_compare`` / ``search_repair`` for
    drift). Returns the number of rows written."""
    columns = ", ".join(("customer_id", "ticket_id", *SEARCH_COLUMNS))
    updated = ", ".join(f"{name} = EXCLUDED.{name}" for name in SEARCH_COLUMNS)
    query, params = _derived()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO public.{SEARCH} ({columns}) SELECT %s, d.* FROM ({query}) d"  # noqa: S608
            f" ORDER BY d.id ON CONFLICT (customer_id, ticket_id) DO UPDATE SET {updated}",
            [customer.pk, *params],
        )
        return int(cursor.rowcount)
