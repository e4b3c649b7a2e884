from .orders import CustomerFactory, OrderFactory, OrderLineFactory
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
    "CustomerFactory",
    "InvitationFactory",
    "MembershipFactory",
    "OrderFactory",
    "OrderLineFactory",
    "PartnerFactory",
    "PersonFactory",
    "UserFactory",
]
