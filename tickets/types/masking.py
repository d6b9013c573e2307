"""What the customer's side reads of the audit trail about custom fields: not the fields only the
service desk sees (``customer_visible=False``). A ticket's ``fields`` diff loses their keys and a
form version's ``definitions`` loses their definitions (labels included), as the ticket pages
leave them out (``tickets.types.values.visible_fields``).

auditlog stores a JSON field's before and after as JSON text (or as JSON itself); anything else
(``"None"`` on a create) is left as it is.
"""

from __future__ import annotations

import json
from typing import Any

from tickets.models import RequestForm

# object type ("app_label.model") -> the field of its changes that holds custom fields
MASKED_FIELDS = {"tickets.ticket": "fields", "tickets.requestform": "definitions"}


def hidden_keys() -> frozenset[str]:
    """The keys of the fields hidden from the customer in any form version of the active schema
    (a key hidden in one type's form is left out of every ticket's diff: never too much shown)."""
    keys: set[str] = set()
    for definitions in RequestForm.objects.values_list("definitions", flat=True):
        for item in definitions if isinstance(definitions, list) else []:
            if isinstance(item, dict) and item.get("customer_visible") is False:
                keys.add(str(item.get("key")))
    return frozenset(keys)


def _masked_value(value: Any, hidden: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if key not in hidden}
    if isinstance(value, list):  # definitions
        return [
            item for item in value if not (isinstance(item, dict) and item.get("customer_visible") is False)
        ]
    return value


def _masked_side(value: Any, hidden: frozenset[str]) -> Any:
    if not isinstance(value, str):
        return _masked_value(value, hidden)
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if not isinstance(parsed, dict | list):
        return value
    return json.dumps(_masked_value(parsed, hidden), sort_keys=True)


def changes_for_customer(object_type: str, changes: Any, hidden: frozenset[str]) -> Any:
    """``changes`` of an entry about ``object_type`` as the customer's side reads them."""
    name = MASKED_FIELDS.get(object_type)
    if name is None or not isinstance(changes, dict) or name not in changes:
        return changes
    diff = changes[name]
    if isinstance(diff, list):
        shown: Any = [_masked_side(side, hidden) for side in diff]
    else:
        shown = _masked_side(diff, hidden)
    return {**changes, name: shown}
