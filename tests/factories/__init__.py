from .partners import (
    CertificationRecordFactory,
    InvitationFactory,
    MembershipFactory,
    PartnerFactory,
    PersonFactory,
    UserFactory,
)

__all__ = [
    "CertificationRecordFactory",
    "InvitationFactory",
    "MembershipFactory",
    "PartnerFactory",
    "PersonFactory",
    "UserFactory",
]
