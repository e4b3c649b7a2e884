from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("view-as/stop/", views.view_as_stop, name="view_as_stop"),
    path("team/", views.TeamView.as_view(), name="team"),
    path("team/<int:pk>/role/", views.MembershipRoleView.as_view(), name="membership_role"),
    path("team/<int:pk>/remove/", views.MembershipRemoveView.as_view(), name="membership_remove"),
    path("team/invitations/<int:pk>/revoke/", views.InvitationRevokeView.as_view(), name="invitation_revoke"),
    path("tier/", views.MyTierView.as_view(), name="my_tier"),
    path("people/", views.PeopleView.as_view(), name="people"),
    path("invitation/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"),
]
