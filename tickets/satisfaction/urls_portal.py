"""Portal routes of satisfaction surveys (included by ``serviflow.urls_portal``)."""

from __future__ import annotations

from django.urls import path

from tickets.satisfaction import portal

urlpatterns = [
    path("rate/<str:rating_token>/", portal.rate_by_link, name="satisfaction-rate"),
    path("tickets/<int:ticket_id>/rating/", portal.ticket_rate, name="portal-ticket-rating"),
    path("settings/surveys/", portal.surveys_setting, name="portal-surveys-setting"),
]
