from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from . import views

# The admin signs in through allauth, so staff logins get the same rate limits and MFA as everyone.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("language/", views.language_switch, name="language_switch"),
    path("health/live", views.health_live, name="health_live"),
    path("health/ready", views.health_ready, name="health_ready"),
    path("health/jobs", views.health_jobs, name="health_jobs"),
    path("deals/", include("deals.urls")),
    path("rebates/", include("rebates.urls")),
    path("api/", include("api.urls")),
    path("", include("api.page_urls")),
    path("", include("partners.urls")),
]

handler400 = "portal.views.error_400"
handler403 = "portal.views.error_403"
handler404 = "portal.views.error_404"
handler500 = "portal.views.error_500"
