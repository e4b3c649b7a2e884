from django.urls import path

from . import views

app_name = "deals"
urlpatterns = [
    path("orders/", views.OrderListView.as_view(), name="order_list"),
    path("orders/<str:number>/", views.OrderDetailView.as_view(), name="order_detail"),
]
