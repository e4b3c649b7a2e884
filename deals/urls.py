from django.urls import path, register_converter

from . import views
from .converters import OrderNumberConverter
from .registrations import views as registration_views
from .routing import views as routing_views

register_converter(OrderNumberConverter, "order_number")

app_name = "deals"
urlpatterns = [
    path("orders/", views.OrderListView.as_view(), name="order_list"),
    path("orders/<order_number:number>/", views.OrderDetailView.as_view(), name="order_detail"),
    path("registrations/", registration_views.RegistrationListView.as_view(), name="registration_list"),
    path("registrations/new/", registration_views.RegistrationCreateView.as_view(), name="registration_create"),
    path(
        "registrations/<str:number>/",
        registration_views.RegistrationDetailView.as_view(),
        name="registration_detail",
    ),
    path(
        "registrations/<str:number>/edit/", registration_views.RegistrationEditView.as_view(), name="registration_edit"
    ),
    path(
        "registrations/<str:number>/delete/",
        registration_views.RegistrationDeleteDraftView.as_view(),
        name="registration_delete_draft",
    ),
    path(
        "registrations/<str:number>/withdraw/",
        registration_views.RegistrationWithdrawView.as_view(),
        name="registration_withdraw",
    ),
    path(
        "registrations/<str:number>/lost/", registration_views.RegistrationLostView.as_view(), name="registration_lost"
    ),
    path(
        "registrations/<str:number>/extension/",
        registration_views.RegistrationExtensionView.as_view(),
        name="registration_extension",
    ),
    path("routed/", routing_views.RoutedListView.as_view(), name="routed_list"),
    path("routed/<int:pk>/accept/", routing_views.RoutedOfferActionView.as_view(action="accept"), name="routed_accept"),
    path(
        "routed/<int:pk>/decline/", routing_views.RoutedOfferActionView.as_view(action="decline"), name="routed_decline"
    ),
]
