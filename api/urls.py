"""The REST API (issue 14): ``/api/v1/…``, its OpenAPI schema and its documentation page (our static files)."""

from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from deals.converters import OrderNumberConverter

from . import system, views

register_converter(OrderNumberConverter, "api_order_number")

app_name = "api"

v1 = [
    path("me/", views.MeView.as_view(), name="me"),
    path("registrations/", views.RegistrationListCreateView.as_view(), name="registrations"),
    path("registrations/<str:number>/", views.RegistrationDetailView.as_view(), name="registration"),
    path(
        "registrations/<str:number>/withdraw/", views.RegistrationWithdrawView.as_view(), name="registration_withdraw"
    ),
    path("registrations/<str:number>/lost/", views.RegistrationLostView.as_view(), name="registration_lost"),
    path(
        "registrations/<str:number>/extension/",
        views.RegistrationExtensionView.as_view(),
        name="registration_extension",
    ),
    path("routed-orders/", views.RoutedOfferListView.as_view(), name="routed_orders"),
    path("routed-orders/<int:pk>/accept/", views.RoutedOfferAcceptView.as_view(), name="routed_accept"),
    path("routed-orders/<int:pk>/decline/", views.RoutedOfferDeclineView.as_view(), name="routed_decline"),
    path("orders/", views.OrderListView.as_view(), name="orders"),
    path("orders/<api_order_number:number>/", views.OrderDetailView.as_view(), name="order"),
    path("statements/", views.StatementListView.as_view(), name="statements"),
    path("statements/<str:number>/", views.StatementDetailView.as_view(), name="statement"),
    path("statements/<str:number>/csv/", views.StatementCsvView.as_view(), name="statement_csv"),
    path("statements/<str:number>/pdf/", views.StatementPdfView.as_view(), name="statement_pdf"),
    path("tier/", views.TierView.as_view(), name="tier"),
    path("system/imports/orders/", system.system_import_view("orders"), name="system_import_orders"),
    path("system/imports/partners/", system.system_import_view("partners"), name="system_import_partners"),
    path("system/imports/<int:pk>/", system.ImportRunDetailView.as_view(), name="system_import_run"),
    path("system/jobs/", system.JobRunListView.as_view(), name="system_jobs"),
    path(
        "system/imports/certifications/",
        system.system_import_view("certifications"),
        name="system_import_certifications",
    ),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("v1/", include(v1)),
    # Anything else under /api/ (a number no URL takes, say) is the API's JSON 404, not the portal's page.
    re_path(r"^.*$", views.api_not_found, name="not_found"),
]
