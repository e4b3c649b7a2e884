"""The partners admin, by concern: program rules, partners, their tiers, their people."""

from . import partners, people, program, tiers, view_as  # noqa: F401  (each module registers its ModelAdmins)
