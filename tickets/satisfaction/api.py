"""API: a ticket's rating, ``/api/v1/customers/{slug}/tickets/{ticket_pk}/rating/``. Whoever may
read the ticket reads its rating; only its requester rates (PUT or POST, the same: rating again
replaces the rating), and only once it is resolved or closed."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from serviflow.api.schema import error
from serviflow.api.strict import JSONParser
from tickets.api import TicketScopedViewSet
from tickets.satisfaction import services
from tickets.satisfaction.models import Rating
from tickets.satisfaction.serializers import RatingInputSerializer, RatingSerializer

NOT_RESOLVED = error("`ticket_not_resolved`: only a resolved or closed ticket can be rated.")
NOT_READER = "Only the ticket's requester and the agents read its rating."
NOT_RATER = error("Only the ticket's requester rates it (agents read the rating).")


class RatingViewSet(TicketScopedViewSet):
    serializer_class = RatingSerializer
    parser_classes = [JSONParser]

    @extend_schema(responses={200: RatingSerializer, 403: error(NOT_READER)})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The ticket's rating (its requester and the agents); 404 while it has none."""
        ticket = self.ticket()
        rating = Rating.objects.filter(ticket=ticket).first()
        if not services.reads_rating(self.access.user, ticket, agent=self.access.works_tickets):
            raise PermissionDenied(NOT_READER)
        if rating is None:
            raise NotFound("This ticket has not been rated.")
        return Response(RatingSerializer(rating).data)

    @extend_schema(
        request=RatingInputSerializer,
        responses={200: RatingSerializer, 403: NOT_RATER, 409: NOT_RESOLVED},
    )
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Rate the ticket (its requester only); rating again replaces the rating."""
        return self._rate(request)

    @extend_schema(
        request=RatingInputSerializer,
        responses={200: RatingSerializer, 403: NOT_RATER, 409: NOT_RESOLVED},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The same as PUT."""
        return self._rate(request)

    def _rate(self, request: Request) -> Response:
        ticket = self.ticket()
        services.rating_check(ticket=ticket, by=self.access.user)  # before reading the body
        data = RatingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rating = services.rating_record(
            customer=self.access.customer,
            ticket=ticket,
            by=self.access.user,
            score=data.validated_data["score"],
            comment=data.validated_data["comment"],
        )
        return Response(RatingSerializer(rating).data)
