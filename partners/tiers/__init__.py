"""The tier engine of DESIGN §3, by concern.

- ``engine``: set-based figures, the evaluation of every partner on a date (read), the nightly evaluation and
  the Titanium Black expiry (writes);
- ``awards``: staff actions — Titanium Black award and revocation, the manual tier override;
- ``overview``: the "My tier" explanation and the tier export of DESIGN §7;
- ``notifications``: the emails a tier change or a coming downgrade sends.

``TierHistory`` is the complete record of the *effective* tier: the tier of partner P on date D is the
``to_tier`` of P's latest row with ``effective_on <= D`` (ties: highest id), Authorized before any row
(``partners.calculations.tier_on``, read through ``partners.selectors``). Every change made here — evaluation,
Titanium Black award / expiry / revocation / annual-review loss, staff override — writes such a row, and
refreshes the ``Partner.tier`` display cache from it.
"""
