"""System endpoints for the vendor's systems (staff tokens): the imports of DESIGN §7 as JSON rows.

The rows are written as the CSV file the importer reads, and imported by ``portal.csvimport.import_file``, so the
all-or-nothing rule, every row error with its line, the re-import no-op and the recorded run are exactly the
file import's (no rule written twice).
"""

import csv
import io

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.mixins import ListModelMixin
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from deals.imports import ORDER_HEADER
from partners.imports import CERTIFICATION_HEADER, PARTNER_HEADER, PARTNER_OPTIONAL
from portal.csvimport import ImportRejected, import_file, import_progress_of
from portal.models import ImportRun, JobRun

from .errors import NON_FIELD
from .idempotency import IdempotentPostMixin
from .models import ApiToken
from .schema import ErrorSerializer

HEADERS = {
    "orders": (ORDER_HEADER, ()),
    "partners": (PARTNER_HEADER, PARTNER_OPTIONAL),
    "certifications": (CERTIFICATION_HEADER, ()),
}


class SystemToken(BasePermission):
    """A system token (made in the admin) of an active staff user who may import (``portal.add_importrun``)."""

    message = _("This operation is for system tokens of staff allowed to import.")

    def has_permission(self, request, view):
        token = request.auth
        return (
            isinstance(token, ApiToken)
            and token.partner_id is None
            and request.user.is_staff
            and request.user.has_perm("portal.add_importrun")
        )


class ImportRowsSerializer(serializers.Serializer):
    rows = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField(allow_blank=True, trim_whitespace=False)),
        allow_empty=False,
        help_text="One object per CSV row, keyed by the file's column names (DESIGN §7); a missing key is blank.",
    )


class ImportRunSerializer(serializers.Serializer):
    run = serializers.IntegerField(source="pk")
    kind = serializers.CharField()
    status = serializers.CharField()
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class ImportRejectedSerializer(ErrorSerializer):
    error_count = serializers.IntegerField(required=False, help_text="on a rejected import: how many errors")


def rows_as_csv(rows: list[dict], header: list[str], optional: tuple[str, ...]) -> bytes:
    """The rows as the CSV file of DESIGN §7 (UTF-8, header first); raise ``ValidationError`` for unknown keys."""
    used_optional = [name for name in optional if any(name in row for row in rows)]
    columns = list(header) + list(optional[: optional.index(used_optional[-1]) + 1] if used_optional else ())
    unknown = {
        f"rows.{index}": [f"unknown column {key!r}" for key in sorted(set(row) - set(columns))]
        for index, row in enumerate(rows)
        if set(row) - set(columns)
    }
    if unknown:
        raise serializers.ValidationError(unknown)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return buffer.getvalue().encode()


def _rejected_body(rejected: ImportRejected) -> dict:
    fields: dict[str, list[str]] = {}
    for line, message in rejected.errors:
        # The header is line 1 of the file: row 0 of the request is line 2.
        fields.setdefault(f"rows.{line - 2}" if line >= 2 else NON_FIELD, []).append(message)
    return {
        "code": "import_rejected",
        "message": f"{rejected.total} error(s): nothing was imported.",
        "fields": fields,
        "error_count": rejected.total,
    }


class SystemImportView(IdempotentPostMixin, generics.GenericAPIView):
    permission_classes = [SystemToken]
    serializer_class = ImportRowsSerializer
    kind = ""

    def run(self):
        serializer = ImportRowsSerializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        header, optional = HEADERS[self.kind]
        data = rows_as_csv(serializer.validated_data["rows"], header, optional)
        try:
            run = import_file(kind=self.kind, data=data, name=f"api-{self.kind}.csv", user=self.request.user)
        except ImportRejected as rejected:
            # Answered, not raised: the rejected run stays recorded and a retry with the key gets this answer.
            return Response(_rejected_body(rejected), status=422)
        return Response(ImportRunSerializer(run).data)


def system_import_view(kind: str):
    description = f"Import {kind} as the `{kind}.csv` file of DESIGN §7 would: all or nothing."
    view = extend_schema(
        tags=["system"],
        summary=f"Import {kind} (system token)",
        description=description,
        request=ImportRowsSerializer,
        responses={
            200: ImportRunSerializer,
            422: OpenApiResponse(ImportRejectedSerializer, description="Rejected: every bad row, nothing imported."),
        },
    )(type(f"System{kind.title()}ImportView", (SystemImportView,), {"kind": kind}))
    return view.as_view()


class ImportRunDetailSerializer(ImportRunSerializer):
    file_name = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    error_count = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField(), help_text="the first errors: line and message")
    progress = serializers.DictField(help_text="a pending upload's progress, while a worker imports it")


@extend_schema(tags=["system"], summary="An import run: status, counts, errors (system token)")
class ImportRunDetailView(generics.GenericAPIView):
    permission_classes = [SystemToken]
    serializer_class = ImportRunDetailSerializer

    def get(self, request, pk):
        run = ImportRun.objects.filter(pk=pk).first()
        if run is None:
            raise NotFound(_("No such import."))
        run.progress = import_progress_of(run.pk) if run.status == ImportRun.Status.PENDING else {}
        return Response(ImportRunDetailSerializer(run).data)


class JobRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobRun
        fields = ["name", "period", "created_at", "finished_at", "runs", "result"]


@extend_schema(
    tags=["system"],
    summary="The periodic jobs' runs, newest first (system token)",
    parameters=[OpenApiParameter("name", str, description="only the runs of this job, e.g. tiers_recompute")],
)
class JobRunListView(ListModelMixin, generics.GenericAPIView):
    permission_classes = [SystemToken]
    serializer_class = JobRunSerializer

    def get_queryset(self):
        runs = JobRun.objects.all()
        if name := self.request.query_params.get("name"):
            runs = runs.filter(name=name)
        return runs

    def get(self, request):
        return self.list(request)
