"""Page-number paging for every list, with its query parameters checked, not clamped."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.request import Request
from rest_framework.views import APIView

from core.parsers import BIGINT_MAX, parse_int

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class CountedPaginator(Paginator):  # type: ignore[type-arg]
    """Django's paginator, told the exact count when the view knows it without ``COUNT(*)``."""

    def __init__(self, object_list: Any, per_page: int, *, known_count: int | None = None) -> None:
        super().__init__(object_list, per_page)
        if known_count is not None:
            self.__dict__["count"] = known_count  # Paginator.count is a cached property


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=`` (1, 2, ...; past the last page is 404) and ``?page_size=`` (1-200, default
    50); anything else in them is a 400. A view with ``known_count(queryset)`` (an exact count
    read from something maintained, or None) spares its lists the ``COUNT(*)``, whose cost grows
    with the rows; ``count`` is exact either way."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    last_page_strings = ()

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        params = request.query_params
        self.size = PAGE_SIZE
        if "page_size" in params:
            self.size = parse_int(params["page_size"], field="page_size", minimum=1, maximum=MAX_PAGE_SIZE)
        self.number = parse_int(params["page"], field="page", minimum=1) if "page" in params else 1
        counted = getattr(view, "known_count", None)
        known = counted(queryset) if counted is not None else None
        self.django_paginator_class = partial(CountedPaginator, known_count=known)  # type: ignore[assignment]
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int:
        return self.size

    def get_page_number(self, request: Request, paginator: Any) -> int:
        return self.number

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "A page number (1, 2, ...); past the last page is 404.",
                "schema": {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page, 1-{MAX_PAGE_SIZE} (default {PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": PAGE_SIZE},
            },
        ]
