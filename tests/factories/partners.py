import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from partners.models import Certification, CertificationRecord, Invitation, Membership, Partner, Person, Tier
from partners.selectors import partner_tier_on
from partners.services import partner_status_match
from partners.tiers.awards import tier_override, titanium_black_award
from portal.models import Program

PASSWORD = "correct-horse-battery-7"
# Channel staff must use TOTP in the admin: staff made by the factory have it, with this secret.
STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def totp_code(secret: str = STAFF_TOTP_SECRET, *, step: int = 0) -> str:
    """The authenticator app's code for ``secret`` now (``step`` time steps later)."""
    import time

    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + step))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    language = "en"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create:
            self.save()
            if extracted is not False:
                EmailAddress.objects.get_or_create(user=self, email=self.email, verified=True, primary=True)

    @factory.post_generation
    def totp(self, create, extracted, **kwargs):
        """Staff get TOTP unless ``totp=False``; anyone gets it with ``totp=True``."""
        wanted = (self.is_staff or self.is_superuser) if extracted is None else extracted
        if create and wanted:
            from allauth.mfa.totp.internal.auth import TOTP

            TOTP.activate(self, STAFF_TOTP_SECRET)


def tier_set(partner: Partner, tier: Tier | str, effective_on) -> None:
    """Give ``partner`` the tier ``tier`` from ``effective_on`` the way staff do, through the services that
    write the history and refresh the ``Partner.tier`` cache: an override, and for Titanium Black an award
    (on Titanium, the same day). Nothing is written when the partner already has that tier on that date."""
    code = tier if isinstance(tier, str) else tier.code
    current = partner_tier_on(partner, effective_on).code
    if code == current:
        return
    base = Tier.TITANIUM if code == Tier.TITANIUM_BLACK else code
    if current != base:
        tier_override(partner=partner, tier=base, reason="test data", effective_on=effective_on, changed_by=None)
    if code == Tier.TITANIUM_BLACK:
        titanium_black_award(partner=partner, sponsor="test", reason="test data", awarded_on=effective_on)


class PartnerFactory(factory.django.DjangoModelFactory):
    """A partner status-matched from its legacy tiers, as the import and the admin create one; ``tier`` (a
    ``Tier`` or a code) is then given by a staff override from the program start."""

    class Meta:
        model = Partner
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"P{n:05d}")
    name = factory.Sequence(lambda n: f"Partner {n} SAS")
    country = "FR"
    kind = Partner.Kind.RESELLER

    @factory.post_generation
    def tier(self, create, extracted, **kwargs):
        if not create:
            return
        partner_status_match(partner=self)
        if extracted is not None:
            tier_set(self, extracted, Program.current().start_date)
            self.refresh_from_db(fields=["tier", "computed_tier", "at_risk", "at_risk_reason", "at_risk_details"])


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = Membership.Role.ADMIN


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    partner = factory.SubFactory(PartnerFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Membership.Role.SALES


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    partner = factory.SubFactory(PartnerFactory)
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Faker("name")


class CertificationRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CertificationRecord

    person = factory.SubFactory(PersonFactory)
    certification = factory.LazyFunction(lambda: Certification.objects.get(code="TECH-SERVER"))
    earned_on = factory.Faker("date_between", start_date="-1y", end_date="today")
    expires_on = None
    # As the certification import and staff create them; a partner admin's portal entry is ``status="pending"``.
    status = CertificationRecord.Status.VERIFIED
