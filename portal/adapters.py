from allauth.account.adapter import DefaultAccountAdapter


class PortalAccountAdapter(DefaultAccountAdapter):
    """No public sign-up: partner users join through an invitation, staff are created in the admin."""

    def is_open_for_signup(self, request):
        return False
