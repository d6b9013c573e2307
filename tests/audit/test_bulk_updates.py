"""``QuerySet.update`` is not exempt from the audit (issue 17): every audited model's manager
writes one entry per changed row, under whoever is acting."""

from __future__ import annotations

import pytest
from django.apps import apps

from accounts.models import ApiToken, User
from audit.context import job_context, person_context
from audit.models import AuditEntry
from audit.querysets import AuditedQuerySet
from audit.registry import AUDITED_MODELS
from tests.conftest import Cast

# django-guardian's rows are written through its own API (assign and remove: save and delete,
# which auditlog sees); nothing here updates them in bulk.
THIRD_PARTY = {"guardian.UserObjectPermission"}


@pytest.mark.parametrize("label", sorted(set(AUDITED_MODELS) - THIRD_PARTY))
def test_every_audited_model_updates_through_the_audited_queryset(label: str) -> None:
    model = apps.get_model(label)
    for manager in model._meta.managers:
        assert isinstance(manager.get_queryset(), AuditedQuerySet), f"{label}.{manager.name}"


def test_a_bulk_update_writes_an_entry_per_changed_row_under_the_person(cast: Cast) -> None:
    before = AuditEntry.objects.count()
    with person_context(cast.alice, channel="web"):
        changed = User.objects.filter(pk__in=[cast.bob.pk, cast.charlie.pk]).update(name="Renamed")
    assert changed == 2
    entries = AuditEntry.objects.filter(object_pk__in=[str(cast.bob.pk), str(cast.charlie.pk)], action=1)
    assert AuditEntry.objects.count() == before + 2
    for entry in entries.order_by("-id")[:2]:
        assert entry.actor == cast.alice and entry.channel == "web"
        assert entry.changes_dict["name"][1] == "Renamed"


def test_a_bulk_update_under_a_job_is_recorded_under_its_name(cast: Cast) -> None:
    with job_context("tests.bulk"):
        User.objects.filter(pk=cast.charlie.pk).update(name="Charles")
    entry = AuditEntry.objects.filter(object_pk=str(cast.charlie.pk)).latest("id")
    assert entry.job == "tests.bulk" and entry.actor is None and entry.channel == "system"


def test_rows_that_do_not_change_write_nothing(cast: Cast) -> None:
    with person_context(cast.alice, channel="web"):
        User.objects.filter(pk=cast.charlie.pk).update(name="Charles")
        count = AuditEntry.objects.count()
        User.objects.filter(pk=cast.charlie.pk).update(name="Charles")
        assert User.objects.filter(name="Nobody at all").update(name="Someone") == 0
    assert AuditEntry.objects.count() == count


def test_a_bulk_update_with_nobody_acting_is_refused_before_it_changes_anything(cast: Cast) -> None:
    with pytest.raises(RuntimeError, match=r"accounts\.User"):
        User.objects.filter(pk=cast.charlie.pk).update(name="Ghost")
    assert User.objects.get(pk=cast.charlie.pk).name != "Ghost"


def test_bookkeeping_fields_update_without_an_entry(cast: Cast) -> None:
    count = AuditEntry.objects.count()
    User.objects.filter(pk=cast.alice.pk).update(last_login=None)  # no actor needed: not audited
    ApiToken.objects.filter(user=cast.alice).update(last_used_at=None)
    assert AuditEntry.objects.count() == count
