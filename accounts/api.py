"""API: tokens, the caller's identity, and provider agents."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied, Throttled
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import signins
from accounts.login import InvalidCredentials, LoginThrottled, sign_in
from accounts.models import ApiToken, User, UserKind
from accounts.serializers import (
    AgentSerializer,
    MeSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
)
from accounts.services import (
    AgentFields,
    agent_create,
    agent_update,
    person_deactivate,
    token_issue,
    token_revoke,
)
from audit import context as audit_context
from audit.middleware import client_ip
from audit.models import Channel
from serviflow.api.schema import error
from serviflow.api.views import ApiView, ApiViewSet
from serviflow.http import ApiRequest
from tenants.access import Reach, memberships_visible_to


class InvalidCredentialsError(NotAuthenticated):
    default_code = "invalid_credentials"
    default_detail = "The email or password is not correct."


class AuthTokenView(ApiView):
    gates_exempt = True  # signing in and out is not agent access

    def get_permissions(self) -> list[Any]:
        if self.request.method == "POST":
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    def get_authenticators(self) -> list[Any]:
        if self.request is not None and self.request.method == "POST":
            return []  # signing in: a stale Authorization header must not turn this into a 401
        return super().get_authenticators()

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenResponseSerializer,
            401: error("`invalid_credentials`: the email or password is not correct."),
            429: error("`throttled`: too many failed sign-ins; try again after `Retry-After` seconds."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        """Exchange email and password for a personal API token."""
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            user = sign_in(
                request._request,
                email=data["email"],
                password=data["password"],
                remote_addr=client_ip(request._request),
                channel=Channel.API,
            )
        except LoginThrottled as exc:
            raise Throttled(wait=exc.retry_after, detail=str(exc)) from None
        except InvalidCredentials:
            raise InvalidCredentialsError from None
        address = client_ip(request._request)
        with audit_context.person_context(user, channel=Channel.API, remote_addr=address):
            _, raw = token_issue(user=user, name=data["name"])
        signins.record(signins.SIGNED_IN, user=user, channel=Channel.API, remote_addr=address)
        return Response({"token": raw, "user": MeSerializer(user).data})

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        """Revoke the token this request was made with."""
        if not isinstance(request.auth, ApiToken):
            raise PermissionDenied("This request was not made with an API token; there is nothing to revoke.")
        token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(ApiView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: ApiRequest) -> Response:
        """Who the caller is: kind, licence, customer and role."""
        return Response(MeSerializer(request.user).data)


class AgentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    """Provider admins and agents. Provider admins write; agents read, and see in another
    agent's ``customers`` only the customers they see themselves."""

    serializer_class = AgentSerializer
    read_reach, write_reach = Reach.STAFF, Reach.ADMIN
    refusal = "Only provider admins can change agents."

    def get_queryset(self) -> QuerySet[User]:
        if getattr(self, "swagger_fake_view", False):
            return User.objects.none()
        memberships = memberships_visible_to(self.caller).select_related("customer")
        return (
            User.objects.filter(kind__in=[UserKind.PROVIDER_ADMIN, UserKind.AGENT])
            .prefetch_related(Prefetch("memberships", queryset=memberships))
            .order_by("email")
        )

    def perform_create(self, serializer: AgentSerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        customers = data.get("customers", [])
        every = customers == ["*"]
        serializer.instance = agent_create(
            fields=AgentFields(
                email=data["email"],
                name=data["name"],
                licence=data["licence"],
                timezone=data.get("timezone", "UTC"),
                is_admin=data["is_admin"],
                all_customers=every,
                customers=() if every else tuple(customers),
                permissions=data.get("permissions"),
            ),
            password=data.get("password") or None,
        )

    def perform_update(self, serializer: AgentSerializer) -> None:  # type: ignore[override]
        agent_update(agent=serializer.instance, changes=serializer.changes())  # type: ignore[arg-type]

    def perform_destroy(self, instance: User) -> None:
        if instance.pk == self.request.user.pk:
            raise PermissionDenied("You cannot deactivate yourself.")
        person_deactivate(user=instance)
