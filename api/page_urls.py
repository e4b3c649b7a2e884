from django.urls import path

from . import pages

urlpatterns = [
    path("api-tokens/", pages.ApiTokensView.as_view(), name="api_tokens"),
    path("webhooks/", pages.WebhooksView.as_view(), name="api_webhooks"),
]
