import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from partners.models import Certification, CertificationRecord, Invitation, Membership, Partner, Person, Tier

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


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    code = factory.Sequence(lambda n: f"P{n:05d}")
    name = factory.Sequence(lambda n: f"Partner {n} SAS")
    country = "FR"
    kind = Partner.Kind.RESELLER
    tier = factory.LazyFunction(lambda: Tier.objects.get(code="authorized"))
    computed_tier = factory.SelfAttribute("tier")


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
