"""One read-only admin mixin: audit records cannot be added, changed or deleted by hand, and the records staff
change through actions keep only the change permission those actions need, with every field read-only."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from deals.models import ChannelLock, ChannelLockEvent, Order, OrderLine, Registration, RoutingCase
from partners.models import TierHistory, TitaniumBlackAward
from portal.admin_mixins import ReadOnlyAdminMixin
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_of_superuser():
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    return request


@pytest.mark.parametrize("model", [ChannelLock, ChannelLockEvent, Order, OrderLine, TierHistory, TitaniumBlackAward])
def test_audit_records_are_view_only_even_for_a_superuser(model, request_of_superuser):
    model_admin = admin.site._registry[model]
    assert isinstance(model_admin, ReadOnlyAdminMixin)
    assert model_admin.has_view_permission(request_of_superuser)
    assert not model_admin.has_add_permission(request_of_superuser)
    assert not model_admin.has_change_permission(request_of_superuser)
    assert not model_admin.has_delete_permission(request_of_superuser)
    for inline in model_admin.get_inline_instances(request_of_superuser):
        assert not inline.has_add_permission(request_of_superuser, None)


@pytest.mark.parametrize("model", [Registration, RoutingCase])
def test_records_changed_through_actions_keep_only_the_change_permission(model, request_of_superuser):
    model_admin = admin.site._registry[model]
    assert model_admin.has_change_permission(request_of_superuser)
    assert not model_admin.has_add_permission(request_of_superuser)
    assert not model_admin.has_delete_permission(request_of_superuser)
    fields = model_admin.get_fields(request_of_superuser)
    assert set(fields) <= set(model_admin.get_readonly_fields(request_of_superuser))
    for inline in model_admin.get_inline_instances(request_of_superuser):
        assert isinstance(inline, ReadOnlyAdminMixin)
        assert not inline.has_change_permission(request_of_superuser, None)
