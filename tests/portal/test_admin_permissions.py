"""Staff who may only view a model cannot run the admin actions that change it."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import RequestFactory

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
READ_ONLY_ACTIONS = {"download_tier_export"}


def view_only_request(model):
    user = UserFactory(is_staff=True)
    codename = f"view_{model._meta.model_name}"
    user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label=model._meta.app_label))
    request = RequestFactory().get("/admin/")
    request.user = type(user).objects.get(pk=user.pk)  # fresh permission cache
    return request


def test_view_only_staff_get_no_state_changing_action_anywhere_in_the_admin():
    offered = {}
    for model, model_admin in admin.site._registry.items():
        actions = set(model_admin.get_actions(view_only_request(model))) - READ_ONLY_ACTIONS
        if actions:
            offered[model._meta.label] = sorted(actions)
    assert offered == {}


def test_the_import_upload_needs_the_add_permission(client):
    from django.urls import reverse

    from portal.models import ImportRun

    request = view_only_request(ImportRun)
    client.force_login(request.user)
    assert client.get(reverse("admin:portal_importrun_upload")).status_code == 403
