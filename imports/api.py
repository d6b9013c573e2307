"""API: CSV imports (provider admins). ``POST /api/v1/imports/`` (multipart ``kind``, ``file``,
``dry_run``, ``send_invites``) checks the file as a whole and answers 202 ``{id}``; the run
happens in a worker; ``GET /api/v1/imports/{id}/`` shows its status, counts and per-row report;
``POST /api/v1/imports/{id}/retry/`` runs a failed one again; the templates are
``GET /api/v1/imports/templates/{kind}.csv``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, parsers, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import Channel
from imports.csvfile import MAX_FILE_BYTES
from imports.models import Import, ImportKind, Outcome
from imports.presenters import template_response
from imports.services import import_retry, import_state, import_submit, imports_fail_dead
from serviflow.api.serializers import InputSerializer
from serviflow.api.views import ApiView, ApiViewSet
from tenants.access import Reach

REFUSAL = "Only provider admins can import."


class ImportUploadSerializer(InputSerializer):
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    file = serializers.FileField(help_text=f"The CSV file, at most {MAX_FILE_BYTES:,} bytes.")
    dry_run = serializers.BooleanField(default=False, help_text="Report what would happen; write nothing.")
    send_invites = serializers.BooleanField(
        default=False, help_text="Email imported users their activation link (real runs only)."
    )


class ImportIdSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()


class RowErrorSerializer(serializers.Serializer[Any]):
    row = serializers.IntegerField(help_text="The line of the file the row starts on (the header is line 1).")
    field = serializers.CharField()
    message = serializers.CharField()


class RowSerializer(RowErrorSerializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)


class ImporterSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class ImportSummarySerializer(serializers.ModelSerializer[Import]):
    created_by = ImporterSerializer(read_only=True)

    class Meta:
        model = Import
        fields = [
            "id",
            "kind",
            "status",
            "dry_run",
            "send_invites",
            "file_name",
            "sha256",
            "size",
            "total",
            "processed",
            "created",
            "updated",
            "unchanged",
            "refused",
            "failure",
            "attempt",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ImportSerializer(ImportSummarySerializer):
    # The metaclass takes declared fields off the class: Serializer.errors stays what it is.
    errors = serializers.SerializerMethodField()  # type: ignore[assignment]
    rows = serializers.SerializerMethodField()

    class Meta(ImportSummarySerializer.Meta):
        fields = [*ImportSummarySerializer.Meta.fields, "errors", "rows"]
        read_only_fields = fields

    @extend_schema_field(RowErrorSerializer(many=True))
    def get_errors(self, job: Import) -> list[dict[str, Any]]:
        return [
            {"row": entry["row"], "field": entry["field"], "message": entry["message"]}
            for entry in job.report
            if entry["outcome"] == "refused"
        ]

    @extend_schema_field(RowSerializer(many=True))
    def get_rows(self, job: Import) -> list[dict[str, Any]]:
        return list(job.report)


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Provider admins import; agents are told so (403), anyone else finds nothing (404)."""

    read_reach = Reach.ADMIN
    write_reach = Reach.ADMIN
    refusal = REFUSAL
    serializer_class = ImportSerializer
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    def get_queryset(self) -> QuerySet[Import]:
        imports = Import.objects.select_related("created_by").defer("content").order_by("-created_at", "-id")
        return imports.defer("report") if self.action == "list" else imports

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return ImportSummarySerializer if self.action == "list" else ImportSerializer

    def get_object(self) -> Import:
        return import_state(super().get_object())

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        imports_fail_dead()  # a dead run shows failed in the list too
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer},
        responses={202: ImportIdSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Check the file and queue its run (dry or real) in a worker: 202 with the import's id."""
        upload = ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        file = data["file"]
        if file.size > MAX_FILE_BYTES:
            raise ValidationError(
                {"file": [f"The file is {file.size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes (5 MB)."]}
            )
        job = import_submit(
            by=self.caller,
            kind=data["kind"],
            file_name=str(file.name or "upload.csv"),
            content=file.read(),
            dry_run=data["dry_run"],
            send_invites=data["send_invites"],
            channel=Channel.API,
        )
        return Response({"id": job.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ImportIdSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Run a failed import again (409 ``import_not_failed`` otherwise)."""
        job = import_retry(job=self.get_object(), by=self.caller)
        return Response({"id": job.pk}, status=status.HTTP_202_ACCEPTED)


class ImportTemplateView(ApiView):
    """The header line of one kind's CSV file."""

    read_reach = Reach.ADMIN
    refusal = REFUSAL
    kind = ImportKind.USERS

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The template's header line.")
        }
    )
    def get(self, request: Request) -> HttpResponse:
        return template_response(self.kind)
