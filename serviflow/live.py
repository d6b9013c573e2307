"""Pages that refresh themselves: HTMX polling answered with ETags.

A live region polls its own URL every few seconds and sends back, as ``If-None-Match``, the ETag
of what it shows::

    <div id="queue" hx-get="{{ request.get_full_path }}" hx-trigger="every 5s"
         hx-swap="outerHTML" hx-headers='{{ live_headers }}'>

(``live_headers`` from ``poll_headers``, in the view's context). The view works out the current
version with one cheap query and calls ``not_modified``: while nothing changed it answers 304 with
no body, which htmx leaves alone (``htmx.config.responseHandling`` in ``templates/base.html``), so
an unchanged page costs that query and no rendering. Otherwise it renders the region and ``with_etag`` marks
the response with the new version.

Some pages change with the clock alone (an SLA row turns amber at its warning instant without
any write). Such a view passes ``until``: the instant at which what it shows changes by itself.
The ETag carries it, and an ETag whose instant has passed no longer counts as fresh.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils import timezone

from core.parsers import parse_int

# How often a live region asks (milliseconds are spelled by the template: "every 5s").
POLL_SECONDS = 5
MAX_IF_NONE_MATCH = 200  # a header longer than this is not one of ours: render afresh
MAX_STAMP = 10**12  # an expiry instant (epoch seconds) beyond this is not one we wrote


def etag(version: object, *, until: datetime | None = None) -> str:
    """The quoted ETag of ``version`` (anything with a stable ``repr``: a tuple of ids and
    instants), valid until ``until`` when what is shown changes with time."""
    digest = hashlib.blake2b(repr(version).encode(), digest_size=12).hexdigest()
    stamp = f".{int(until.timestamp())}" if until is not None else ""
    return f'"{digest}{stamp}"'


def _fresh(tag: str, now: datetime) -> bool:
    _, dot, stamp = tag.strip('"').partition(".")
    if not dot:
        return True
    try:
        until = parse_int(stamp, field="If-None-Match", minimum=0, maximum=MAX_STAMP)
    except ValidationError:
        return False  # not one of ours: render afresh
    return now.timestamp() < until


def not_modified(request: HttpRequest, version: object) -> HttpResponse | None:
    """A 304 for a poll whose ``If-None-Match`` names ``version`` and has not expired; None when
    the view must render. Only polls (htmx requests) are answered 304."""
    sent = request.headers.get("If-None-Match", "")
    if not sent or len(sent) > MAX_IF_NONE_MATCH or request.headers.get("HX-Request") != "true":
        return None
    tags = [tag.strip().removeprefix("W/") for tag in sent.split(",")]
    current = etag(version)
    for tag in tags:
        digest, _, _ = tag.strip('"').partition(".")
        if f'"{digest}"' == current and _fresh(tag, timezone.now()):
            response = HttpResponseNotModified()
            response["ETag"] = tag
            return response
    return None


def with_etag(response: HttpResponse, version: object, *, until: datetime | None = None) -> HttpResponse:
    """Mark a rendered live region with its version; nothing may cache it as is."""
    response["ETag"] = etag(version, until=until)
    response["Cache-Control"] = "private, no-cache"
    return response


def poll_headers(version: object, *, until: datetime | None = None) -> str:
    """The ``hx-headers`` JSON of a live region showing ``version`` (autoescaping keeps it intact
    inside the attribute)."""
    return json.dumps({"If-None-Match": etag(version, until=until)})
