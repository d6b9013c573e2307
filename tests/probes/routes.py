"""Every route of the console host (the API included) and of a customer's portal, found by
walking Django's URL resolvers through their includes. Nothing here names a module: routes may
move between url modules; their paths and url names are what the probes rely on."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern, RoutePattern

CONSOLE, API, PORTAL = "console", "api", "portal"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# What a function view with no method restriction is probed with (it serves every method; the
# others behave as POST does in every view here: "anything but GET/HEAD is a write").
UNRESTRICTED = ("GET", "POST")


@dataclass(frozen=True)
class Route:
    family: str  # CONSOLE, API or PORTAL
    urlconf: str
    path: str  # as in the url modules, e.g. "api/v1/customers/<slug:slug>/tickets/<str:ticket_pk>/"
    name: str  # the url name with its namespace, e.g. "api:ticket-comments"
    kwargs: tuple[str, ...]  # the path arguments, in path order
    converters: dict[str, str]  # argument -> the regular expression its converter matches
    methods: tuple[str, ...]  # the HTTP methods the view serves (HEAD and OPTIONS left out)
    callback: Callable[..., Any]

    @property
    def id(self) -> str:
        """For test ids: the url name (with the family where the name is not namespaced)."""
        if not self.name:
            return f"{self.family}:/{self.path}"
        return self.name if ":" in self.name else f"{self.family}:{self.name}"

    def url(self, **kwargs: Any) -> str:
        return reverse(self.name, urlconf=self.urlconf, kwargs={k: str(v) for k, v in kwargs.items()})

    def __str__(self) -> str:
        return f"{self.family} /{self.path} ({self.name})"


def _methods_of(callback: Callable[..., Any]) -> tuple[str, ...]:
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:
        allowed = [m for m in cls.http_method_names if m not in ("head", "options", "trace")]
        actions = getattr(callback, "actions", None)  # a DRF viewset bound to {method: action}
        names = [m for m in allowed if (m in actions if actions else hasattr(cls, m))]
        return tuple(m.upper() for m in names)
    func: Any = callback
    while func is not None:  # require_POST & co. keep their list in the closure of ``inner``
        code = getattr(func, "__code__", None)
        if code is not None and "request_method_list" in code.co_freevars:
            cell = func.__closure__[code.co_freevars.index("request_method_list")]
            return tuple(m for m in cell.cell_contents if m not in ("HEAD", "OPTIONS"))
        func = getattr(func, "__wrapped__", None)
    return UNRESTRICTED


def _pattern_parts(pattern: Any) -> tuple[str, dict[str, str]]:
    """The pattern as text (route syntax, regexes as they are) and its arguments' converters."""
    if isinstance(pattern, RoutePattern):
        text = str(pattern)
        return text, {name: conv.regex for name, conv in pattern.converters.items()}
    if isinstance(pattern, RegexPattern):
        regex = pattern.regex.pattern
        converters = {}
        for match in re.finditer(r"\(\?P<(\w+)>([^)]*)\)", regex):
            converters[match.group(1)] = match.group(2)
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", regex).strip("^$")
        return text, converters
    raise TypeError(f"unknown URL pattern type {type(pattern).__name__}")


def _walk(
    patterns: list[Any], prefix: str, converters: dict[str, str], namespace: str
) -> Iterator[tuple[str, dict[str, str], str, URLPattern]]:
    for entry in patterns:
        text, found = _pattern_parts(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + text, converters | found, inner)
        elif isinstance(entry, URLPattern):
            yield prefix + text, converters | found, namespace, entry


def routes_of(urlconf: str, family_of: Callable[[str], str]) -> list[Route]:
    found = []
    for path, converters, namespace, entry in _walk(get_resolver(urlconf).url_patterns, "", {}, ""):
        if "\\" in path or path.endswith(r"\.(?P<format>[a-z0-9]+)/?"):
            continue  # format-suffix variants (none today): the plain route is probed
        found.append(
            Route(
                family=family_of(path),
                urlconf=urlconf,
                path=path,
                name=f"{namespace}{entry.name}" if entry.name else "",
                kwargs=tuple(re.findall(r"<(?:\w+:)?(\w+)>", path)),
                converters=converters,
                methods=_methods_of(entry.callback),
                callback=entry.callback,
            )
        )
    return found


def all_routes() -> list[Route]:
    """The console host's routes (the API is the part under ``api/``) and a portal's."""
    console = routes_of(settings.PUBLIC_SCHEMA_URLCONF, lambda p: API if p.startswith("api/") else CONSOLE)
    portal = routes_of(settings.ROOT_URLCONF, lambda p: PORTAL)
    return console + portal
