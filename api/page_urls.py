from django.urls import path

from . import pages

urlpatterns = [path("", pages.ApiTokensView.as_view(), name="api_tokens")]
