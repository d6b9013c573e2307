"""Request types of a customer and the provider's library: who reads which, and every write.

- Provider admins write a customer's types and the library (api.md: "admins write"); everyone
  of the customer reads its types: agents all of them with every field, the customer's users
  and admins the active ones with the fields the customer sees.
- A type's form is versioned: saving different field definitions writes a new ``RequestForm``
  and points the type at it; tickets keep the version they were filed with, so changing a form
  never reinterprets an old ticket's values.
- A type that tickets use is never deleted: it is made inactive (new tickets cannot take it).
- Every write is audited (``audit.registry``: the type, its versions, the library).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet

from accounts.models import User
from core.changes import UNSET, Changes
from core.parsers import parse_id_or_name
from sla.models import SlaPolicy
from tenants.access import CustomerAccess, require_sets_policies
from tenants.models import Customer
from tenants.schema import require_schema
from tickets.index.models import TicketIndexEntry
from tickets.library.models import LibraryRequestType
from tickets.models import Priority, RequestForm, RequestType
from tickets.types.values import FieldDef, definitions_clean

NAME_MAX = 100
DESCRIPTION_MAX = 2_000
MAX_TYPES = 200


@dataclass(frozen=True)
class TypeValues(Changes):
    """What a create or an update gives (``core.changes``: UNSET is "not given")."""

    name: str = UNSET
    description: str = UNSET
    priority: str = UNSET
    sla_policy: SlaPolicy | None = UNSET
    active: bool = UNSET
    position: int = UNSET
    fields: list[FieldDef] = UNSET


def types_readable(access: CustomerAccess) -> QuerySet[RequestType]:
    """The types ``access`` may read: agents every one, the customer's side the active ones."""
    types = RequestType.objects.select_related("form")
    return types if access.works_tickets else types.filter(active=True)


def type_for(access: CustomerAccess, type_id: int) -> RequestType | None:
    return types_readable(access).filter(pk=type_id).first()


def type_from(value: object, *, field: str = "request_type") -> RequestType | None:
    """A request type of the active schema, by id or by name, for the input ``field`` (read
    with its current form); None for an empty value, a 400 naming the field otherwise."""
    wanted = parse_id_or_name(value, field=field, max_length=NAME_MAX)
    if wanted is None:
        return None
    types = RequestType.objects.select_related("form")
    found = types.filter(pk=wanted.id).first() if wanted.id is not None else None
    if wanted.id is None:
        found = types.filter(name=wanted.name).first()
    if found is None:
        shown = wanted.id if wanted.id is not None else str(wanted.name)[:60]
        raise ValidationError({field: [f"No request type '{shown}' in this customer (give its id or name)."]})
    return found


def offered_types() -> QuerySet[RequestType]:
    """The types a new ticket may take (the active schema's): the active ones."""
    return RequestType.objects.select_related("form").filter(active=True)


def _clean_name(name: str) -> str:
    text = (name or "").strip()
    if not text or len(text) > NAME_MAX:
        raise ValidationError({"name": [f"Give a name of 1 to {NAME_MAX} characters."]})
    return text


def _check(values: TypeValues, by: User | None) -> dict[str, Any]:
    """What ``values`` gives, cleaned (a type's and a library entry's: the same 400s)."""
    given = values.given()
    if "name" in given:
        given["name"] = _clean_name(given["name"])
    if "description" in given:
        given["description"] = (given["description"] or "").strip()
        if len(given["description"]) > DESCRIPTION_MAX:
            raise ValidationError({"description": [f"At most {DESCRIPTION_MAX} characters."]})
    if given.get("priority") not in (None, "", *Priority.values):
        raise ValidationError({"priority": ["Use P1, P2, P3, P4 or null."]})
    if "priority" in given:
        given["priority"] = given["priority"] or ""
    if given.get("sla_policy") is not None:
        require_sets_policies(by)
    return given


def _new_form(request_type: RequestType, fields: list[FieldDef]) -> RequestForm:
    """The next version of ``request_type``'s form (the type's row is locked by the caller)."""
    latest = RequestForm.objects.filter(request_type=request_type).aggregate(last=Max("version"))["last"]
    return RequestForm.objects.create(
        request_type=request_type,
        version=(latest or 0) + 1,
        definitions=[field.as_json() for field in fields],
    )


def request_type_create(*, customer: Customer, by: User, values: TypeValues) -> RequestType:
    require_schema(customer, "tickets")
    given = _check(values, by)
    if "name" not in given:
        raise ValidationError({"name": ["A request type needs a name."]})
    fields = given.pop("fields", [])
    with transaction.atomic():
        if RequestType.objects.count() >= MAX_TYPES:
            raise ValidationError({"name": [f"A customer has at most {MAX_TYPES} request types."]})
        request_type = RequestType(**given)
        _save_unique(request_type, force_insert=True)
        request_type.form = _new_form(request_type, fields)
        request_type.save(update_fields=["form"])
    return request_type


def request_type_update(
    *, customer: Customer, request_type: RequestType, by: User, values: TypeValues
) -> RequestType:
    """Change a type; new field definitions make a new form version (old tickets keep theirs)."""
    require_schema(customer, "tickets")
    given = _check(values, by)
    fields = given.pop("fields", UNSET)
    with transaction.atomic():
        types = RequestType.objects.select_for_update(of=("self",)).select_related("form")
        locked = types.get(pk=request_type.pk)
        old_name = locked.name
        for name, value in given.items():
            setattr(locked, name, value)
        definitions = [field.as_json() for field in fields] if fields is not UNSET else None
        if definitions is not None and (locked.form is None or locked.form.definitions != definitions):
            locked.form = _new_form(locked, fields)
        _save_unique(locked)
        if locked.name != old_name:  # the queue's rows name the type (names are unique per customer)
            TicketIndexEntry.objects.filter(customer=customer, request_type_name=old_name).update(
                request_type_name=locked.name
            )
    return locked


def _save_unique(request_type: RequestType, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            request_type.save(**kwargs)
    except IntegrityError as error:
        if "tickets_request_type_name_unique" not in str(error):
            raise
        raise ValidationError(
            {"name": [f"This customer already has a type named '{request_type.name}'."]}
        ) from None


# --- the provider's library ---------------------------------------------------------------------


LIBRARY_VALUES = ("name", "description", "priority", "fields")  # a library entry's (no policy, no state)


def library_save(*, entry: LibraryRequestType | None, values: dict[str, Any]) -> LibraryRequestType:
    """Create (``entry`` None) or change a library type (provider admins: the view checks)."""
    entry = entry or LibraryRequestType()
    given = _check(TypeValues(**{name: values[name] for name in LIBRARY_VALUES if name in values}), None)
    if "name" not in given and entry.pk is None:
        raise ValidationError({"name": ["A request type needs a name."]})
    for name in ("name", "description", "priority"):
        if name in given:
            setattr(entry, name, given[name])
    if "fields" in given:
        entry.definitions = [field.as_json() for field in given["fields"]]
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        raise ValidationError({"name": [f"The library already has a type named '{entry.name}'."]}) from None
    return entry


def library_copy(*, entry: LibraryRequestType, customer: Customer, by: User) -> RequestType:
    """A customer's own type made from a library entry (same name, description, priority preset
    and fields); the copy is independent of the entry from then on."""
    return request_type_create(
        customer=customer,
        by=by,
        values=TypeValues(
            name=entry.name,
            description=entry.description,
            priority=entry.priority,
            fields=definitions_clean(entry.definitions),
        ),
    )
