"""API representations of a ticket's rating (the ticket's ``rating`` and ``…/rating/``)."""

from __future__ import annotations

from rest_framework import serializers

from serviflow.api.serializers import InputSerializer
from tickets.satisfaction.models import Rating, Score
from tickets.satisfaction.services import MAX_COMMENT


class RatingSerializer(serializers.ModelSerializer[Rating]):
    class Meta:
        model = Rating
        fields = ["score", "comment", "rated_at", "sla_met"]
        read_only_fields = fields


class RatingInputSerializer(InputSerializer):
    score = serializers.ChoiceField(choices=Score.choices)
    comment = serializers.CharField(max_length=MAX_COMMENT, allow_blank=True, required=False, default="")
