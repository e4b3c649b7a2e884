"""ISO 3166-1 alpha-2 country codes: the countries customers and partners may have (DESIGN §3, §7).

The 249 officially assigned codes as of ISO/TC 46 N1108 (2023-04-05), taken from the IANA time zone database's
``iso3166.tab`` (public domain). Django and the installed packages ship no list of their own. User-assigned codes
(``ZZ``, ``XK``, ``AA``…) and reserved ones (``UK``, ``EU``) are not countries here. When ISO assigns or withdraws
a code, change this set (and nothing else).
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

ISO_3166_ALPHA2 = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """.split()
)


def is_country_code(value: str) -> bool:
    return value in ISO_3166_ALPHA2


def validate_country_code(value: str) -> None:
    """A field validator: ``value`` is an assigned ISO 3166-1 alpha-2 code, in capitals."""
    if not is_country_code(value):
        raise ValidationError(_("Use a two-letter ISO 3166 country code, e.g. FR."), code="invalid_country")


def country_choices() -> list[tuple[str, str]]:
    """``(code, name)`` of every country above, by name in the active language (django-countries' translated
    names): for a select box, evaluated when it renders."""
    from django_countries import countries

    def collation_key(choice):  # "Égypte" between "Danemark" and "Espagne", not after "Zimbabwe"
        return unicodedata.normalize("NFKD", choice[1]).encode("ascii", "ignore").decode().casefold()

    return sorted(((code, str(countries.name(code) or code)) for code in ISO_3166_ALPHA2), key=collation_key)
