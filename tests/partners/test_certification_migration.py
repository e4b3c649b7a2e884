"""Migration partners/0006: the records that exist when it runs keep counting (they become verified); records
created afterwards without a status are pending."""

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("partners", "0005_partner_joined_on")]
AFTER = [("partners", "0006_certificationrecord_verification")]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_existing_records_are_verified_by_the_migration_and_new_ones_default_to_pending():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    partner = old.get_model("partners", "Partner").objects.create(code="MIG-1", name="Migrated", country="FR")
    person = old.get_model("partners", "Person").objects.create(partner=partner, email="a@example.com", name="A")
    certification = old.get_model("partners", "Certification").objects.get(code="TECH-SERVER")
    old.get_model("partners", "CertificationRecord").objects.create(
        person=person, certification=certification, earned_on=date(2017, 3, 1), expires_on=date(2019, 3, 1)
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Record = new.get_model("partners", "CertificationRecord")
    assert list(Record.objects.values_list("status", flat=True)) == ["verified"]
    Record.objects.create(
        person_id=person.pk, certification_id=certification.pk, earned_on=date(2018, 3, 1), expires_on=date(2020, 3, 1)
    )
    assert sorted(Record.objects.values_list("status", flat=True)) == ["pending", "verified"]

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # back to the latest state for the next tests
