"""Schemathesis hooks of the contract run (loaded by the ``st`` process, not by pytest).

Generated data addresses objects that do not exist, and valid data per the schema is not always
acceptable to a server with state. So, just before a case is sent (``before_call``):

- its path names the run's real objects (``CONTRACT_VALUES``: a JSON file the test writes),
  unless the path is what the case makes invalid;
- a *valid* case (``positive_data_acceptance`` checks those) also refers to real objects in its
  body and query, and is bent to the rules a schema cannot say, listed in ``BENT``; invalid cases
  are sent as generated, so ``negative_data_rejection`` still sees exactly what was made invalid.

Every change keeps a valid case valid per the schema.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation

TAG = os.environ.get("CONTRACT_TAG", "run")
YEAR = timedelta(days=365)
_counter = itertools.count(1)

BENT = {
    "NUL": "PostgreSQL stores no NUL character, so the API refuses text with one (400): NULs are "
    "taken out of valid cases (invalid ones keep them, and must be 400, never 500)",
    "unique": "a name, slug, email or mail domain that is taken is refused (400): made unique per case",
    "password": "Django's password validators refuse weak passwords (400): a strong one is used",
    "admin licence": "a provider admin is always full-time (400 otherwise): an admin gets licence "
    "full_time, an occasional licence is_admin false",
    "attributes": "a CI's attribute names are 1-100 characters, not blank (400 otherwise; OpenAPI 3.0 "
    "has no propertyNames to say it): other names are left out",
    "default policy": "there is always one default SLA policy (400 default_required when unsetting "
    "it): is_default false is left out",
    "schedule": "intervals must end after they start and not overlap (400): sorted, empty ones dropped",
    "targets": "first_response may not exceed resolution (400): the two are put in order",
    "ticket status": "which status may follow which depends on the ticket's state (400 "
    "invalid_transition, pending_needs_question): status is left out of valid ticket changes",
    "cursor": "a cursor is an opaque token from a previous page's links (400 otherwise): left out",
    "holidays": "fill-holidays needs a country the holidays package knows, and years (or from and "
    "to) within 2000-2100 (400 otherwise): country DE, years 2026-2027",
    "simulate": "the simulator needs a policy or the simulated priority's targets, and events in "
    "time order after created_at, within ten years (400 otherwise): a policy is given, instants "
    "are put in order and within a year of a created_at in 1970-8999 (the instants the API takes; "
    "a date-time format has no bounds to say it)",
    "if-match": "a ticket PATCH with If-Match is made only while the ticket is still the version its "
    "ETag names, which a generated value cannot know (412 precondition_failed otherwise): a valid "
    "case's If-Match is *, any version",
    "blank": "text is trimmed, and required text may not be blank after that (400; a schema "
    "pattern cannot say which characters Python trims): text of whitespace only becomes 'x'",
}


@cache
def _values() -> dict[str, Any]:
    with open(os.environ["CONTRACT_VALUES"]) as values:
        loaded: dict[str, Any] = json.load(values)
    return loaded


def _unique() -> str:
    return f"{TAG}{next(_counter)}"


def _pick(choices: list[Any]) -> Any:
    return choices[next(_counter) % len(choices)]


def _suffixed(text: str, limit: int) -> str:
    suffix = "-" + _unique()
    return text[: limit - len(suffix)] + suffix


def _email(text: str) -> str:
    local, _, domain = text.rpartition("@")
    return f"{_unique()}.{local}"[:64] + "@" + domain if local else text


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _schedule(schedule: dict[str, Any]) -> dict[str, Any]:
    fixed: dict[str, Any] = {}
    for day, intervals in schedule.items():
        kept: list[list[str]] = []
        for start, end in sorted(sorted(pair, key=_minutes) for pair in intervals):
            if start == "24:00" or _minutes(start) >= _minutes(end):
                continue
            if kept and _minutes(start) < _minutes(kept[-1][1]):
                continue
            kept.append([start, end])
        fixed[day] = kept
    if not any(fixed.values()):
        fixed["mon"] = [["09:00", "17:00"]]
    return fixed


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def _bend_body(label: str, body: dict[str, Any]) -> None:
    for name, value in body.items():
        if isinstance(value, str) and value and not value.strip():
            body[name] = "x"
    references: dict[str, list[Any]] = _values()["body"]
    for name, choices in references.items():
        if name in body:
            body[name] = [_pick(choices)] if isinstance(body[name], list) else _pick(choices)
    if isinstance(body.get("name"), str) and ("/users/" not in label and "/agents/" not in label):
        body["name"] = _suffixed(body["name"], 100)
    if isinstance(body.get("slug"), str):
        body["slug"] = _suffixed(body["slug"], 40)
    if isinstance(body.get("email_domains"), list):  # a mail domain belongs to one customer
        body["email_domains"] = [
            f"{_unique()}.{domain}" for domain in body["email_domains"] if len(domain) < 240
        ]
    if isinstance(body.get("email"), str):
        body["email"] = _email(body["email"])
    if isinstance(body.get("password"), str) and body["password"]:
        body["password"] = "Pw-" + hashlib.sha256(_unique().encode()).hexdigest()[:20]
    if body.get("is_admin") is True:
        body["licence"] = "full_time"
    elif body.get("licence") == "occasional":
        body["is_admin"] = False
    if isinstance(body.get("attributes"), dict):
        body["attributes"] = {k: v for k, v in body["attributes"].items() if k.strip() and len(k) <= 100}
    if body.get("is_default") is False:
        del body["is_default"]
    if isinstance(body.get("schedule"), dict):
        body["schedule"] = _schedule(body["schedule"])
    if isinstance(body.get("targets"), dict):
        for clocks in body["targets"].values():
            if isinstance(clocks, dict) and {"first_response", "resolution"} <= clocks.keys():
                first, last = sorted((clocks["first_response"], clocks["resolution"]))
                clocks["first_response"], clocks["resolution"] = first, last
    if label.startswith("PATCH ") and "/tickets/{id}/" in label:
        body.pop("status", None)
    if label.endswith("/fill-holidays/"):
        body.update(country="DE", years="2026-2027")
        for name in ("subdivision", "from", "to"):
            body.pop(name, None)
    if label == "POST /api/v1/sla/simulate/":
        _simulation(body)


def _simulation(body: dict[str, Any]) -> None:
    if body.get("policy") is None:
        body["policy"] = _pick(_values()["body"]["policy"])
    start = _instant(body["created_at"])
    if not 1970 <= start.year <= 8998:
        start = start.replace(year=2026, day=min(start.day, 28))
        body["created_at"] = start.isoformat()
    for name in ("first_response_at", "now"):
        if body.get(name) and not start <= _instant(body[name]) <= start + YEAR:
            body[name] = (start + YEAR).isoformat()
    events = sorted(body.get("events") or [], key=lambda event: _instant(event["at"]))
    for index, event in enumerate(events):  # in order, a minute apart, within the year
        event["at"] = (start + timedelta(minutes=index + 1)).isoformat()
    if "events" in body:
        body["events"] = events


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    meta = case.meta
    if meta is None:
        return
    path = case.operation.path
    label = f"{case.method.upper()} {path}"
    real_path: dict[str, Any] = {**_values()["path"].get(path, {}), **_values()["path"].get(label, {})}
    if real_path and not meta.is_negative_at(ParameterLocation.PATH):
        case.path_parameters = {**(case.path_parameters or {}), **real_path}
    if not meta.generation.mode.is_positive:
        return
    if case.headers and "If-Match" in case.headers:
        case.headers["If-Match"] = "*"
    if isinstance(case.body, dict):
        case.body = _without_nul(case.body)
        _bend_body(label, case.body)
    if case.query:
        case.query = _without_nul(case.query)
        for name, choices in _values()["query"].get(path, {}).items():
            if name in case.query:
                case.query[name] = _pick(choices)
        if path == "/api/v1/tickets/":
            case.query.pop("cursor", None)
