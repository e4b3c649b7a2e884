"""The program's product lines (DESIGN §5), shared by certifications, orders, registrations and rates."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ProductLine(models.TextChoices):
    SERVER = "server", _("Server")
    STORAGE = "storage", _("Storage")
    NETWORKING = "networking", _("Networking")
    HCI = "hci", _("Hyper-converged")
    DATA_PROTECTION = "data_protection", _("Data protection")
    SERVICES = "services", _("Services")
