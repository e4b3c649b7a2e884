from django.urls import path

from . import views

app_name = "rebates"
urlpatterns = [
    path("", views.StatementListView.as_view(), name="statement_list"),
    path("<str:number>/", views.StatementDetailView.as_view(), name="statement_detail"),
    path("<str:number>/csv/", views.StatementCsvView.as_view(), name="statement_csv"),
    path("<str:number>/pdf/", views.StatementPdfView.as_view(), name="statement_pdf"),
]
