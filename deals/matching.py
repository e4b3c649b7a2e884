"""Customer identity (DESIGN §4): normalised keys, exact matching in order, and the near-match score.

Pure rules, no ORM: ``deals.models`` computes the keys with them and its ``CustomerQuerySet`` looks customers up
with them. Imports and deal registration both go through these, so one real company is one customer.
"""

import functools
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from rapidfuzz import fuzz

LEGAL_FORMS = frozenset(
    {"sa", "sas", "sarl", "gmbh", "ag", "ltd", "limited", "inc", "llc", "plc", "bv", "nv", "spa", "srl"}
)
NEAR_MATCH_THRESHOLD = 90


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def normalize_name(name: str) -> str:
    """Case-fold, drop accents, dots and other punctuation, and drop the legal forms that end the name (DESIGN §4):
    "Établissements Dupont, S.A.R.L." → "etablissements dupont", "NV Energy" → "nv energy".

    A name made only of legal forms keeps its first word ("SA" → "sa")."""
    text = _strip_accents(name).casefold()
    text = text.replace(".", "")  # S.A.R.L. → sarl, before other punctuation becomes a space
    text = re.sub(r"[^\w\s]|_", " ", text)
    tokens = text.split()
    # Only trailing words are legal forms: "NV Energy" is a company called NV Energy, "Energy NV" is Energy.
    end = len(tokens)
    while end > 1 and tokens[end - 1] in LEGAL_FORMS:
        end -= 1
    return " ".join(tokens[:end])


def normalize_vat(vat: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", vat or "").upper()


def normalize_domain(domain: str) -> str:
    text = (domain or "").strip().lower()
    text = re.sub(r"^[a-z]+://", "", text).split("/")[0].rstrip(".")
    return text[4:] if text.startswith("www.") else text


# VAT / company ids as people write them: "FR 12 345678901", "DE123456789", "12-3456789" (US EIN), "B-12.345.678".
# Syntax only (the registries differ per country): letters, digits, spaces, dots, dashes and slashes, 2 to 20 letters
# and digits, at least one digit.
VAT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./-]*")
VAT_KEY_LENGTH = (2, 20)
# One DNS label (RFC 1035, letters digits and inner hyphens; IDN labels are checked in their ASCII form).
DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
DOMAIN_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")


@functools.lru_cache(maxsize=65536)  # an import checks the same few customers on thousands of lines
def vat_is_valid(vat: str) -> bool:
    """Whether ``vat`` reads as a VAT / company id (see ``VAT_PATTERN``); blank is not an id."""
    key = normalize_vat(vat)
    low, high = VAT_KEY_LENGTH
    return bool(VAT_PATTERN.fullmatch(vat.strip())) and low <= len(key) <= high and any(c.isdigit() for c in key)


@functools.lru_cache(maxsize=65536)
def domain_is_valid(domain: str) -> bool:
    """Whether ``domain`` is a syntactically valid web domain once normalised (``www.``, scheme and path are
    allowed and dropped): two labels at least, an alphabetic or IDN top-level label, 253 characters at most."""
    key = normalize_domain(domain)
    try:
        ascii_key = key.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_key.split(".")
    return (
        len(ascii_key) <= 253
        and len(labels) >= 2
        and all(DOMAIN_LABEL.fullmatch(label) for label in labels)
        and bool(DOMAIN_TLD.fullmatch(labels[-1]))
    )


def validate_vat(value: str) -> None:
    """A field validator for a VAT / company id."""
    if value and not vat_is_valid(value):
        raise ValidationError(
            _("Enter a VAT or company id: letters and digits (spaces, dots, dashes allowed), e.g. FR12345678901."),
            code="invalid_vat",
        )


def validate_domain(value: str) -> None:
    """A field validator for a web domain."""
    if value and not domain_is_valid(value):
        raise ValidationError(_("Enter a web domain such as example.com."), code="invalid_domain")


def customer_keys(name: str, vat: str, domain: str) -> tuple[str, str, str]:
    """Return ``(vat_key, domain_key, name_key)``."""
    return normalize_vat(vat), normalize_domain(domain), normalize_name(name)


@dataclass(frozen=True)
class CustomerIdentity:
    name: str
    country: str
    vat: str = ""
    domain: str = ""

    @property
    def keys(self) -> tuple[str, str, str]:
        return customer_keys(self.name, self.vat, self.domain)


class CustomerIndex:
    """An in-memory index of customers by key, for matching many rows with no query per row.

    ``add`` registers a known customer (anything with ``pk``/``country``/``vat_key``/``domain_key``/``name_key``,
    or a new one not yet saved); ``match`` applies DESIGN §4's order: VAT, then domain, then name in the country.
    A weaker key never matches a customer whose stronger key contradicts the row (two different VAT ids are two
    companies).
    """

    def __init__(self):
        self.by_vat: dict[str, object] = {}
        self.by_domain: dict[str, object] = {}
        self.by_name: dict[tuple[str, str], object] = {}

    def add(self, customer) -> None:
        if customer.vat_key:
            self.by_vat.setdefault(customer.vat_key, customer)
        if customer.domain_key:
            self.by_domain.setdefault(customer.domain_key, customer)
        self.by_name.setdefault((customer.country, customer.name_key), customer)

    def match(self, identity: CustomerIdentity):
        vat_key, domain_key, name_key = identity.keys
        if vat_key and vat_key in self.by_vat:
            return self.by_vat[vat_key]
        candidate = self.by_domain.get(domain_key) if domain_key else None
        if candidate is not None and not _conflicts(candidate.vat_key, vat_key):
            return candidate
        candidate = self.by_name.get((identity.country, name_key))
        if (
            candidate is not None
            and not _conflicts(candidate.vat_key, vat_key)
            and not _conflicts(candidate.domain_key, domain_key)
        ):
            return candidate
        return None


def _conflicts(known: str, given: str) -> bool:
    return bool(known and given and known != given)


def name_similarity(a: str, b: str) -> float:
    """Similarity 0–100 of two normalised names."""
    return fuzz.ratio(a, b)
