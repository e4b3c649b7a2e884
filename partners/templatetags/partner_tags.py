"""The partner navigation: the sections the signed-in user's role sees."""

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from partners.scoping import membership_of

register = template.Library()


# (url name, label, roles that see it). A section appears once its app provides the page.
SECTIONS = [
    ("deals:registration_list", _("Deals"), ("admin", "sales")),
    ("deals:order_list", _("Orders"), ("admin", "sales", "finance")),
    ("deals:routed_list", _("Routed orders"), ("admin", "sales")),
    ("my_tier", _("My tier"), ("admin", "sales", "finance")),
    ("rebates:statement_list", _("Rebates"), ("admin", "finance")),
    ("people", _("People"), ("admin",)),
]


@register.simple_tag(takes_context=True)
def nav_sections(context):
    request = context["request"]
    membership = membership_of(request.user)
    if membership is None:
        return []
    sections = []
    for name, label, roles in SECTIONS:
        if membership.role not in roles:
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        sections.append({"url": url, "label": label, "active": request.path.startswith(url)})
    return sections


@register.filter
def path_label(path: str) -> str:
    """A requirement path's name in the reader's language ("training" → "formation")."""
    from partners.tiers.reasons import path_label as label

    return label(path)
