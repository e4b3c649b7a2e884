"""``close_quarter`` refuses an as-of date in the future (issue 10, item 14): nothing is closed, exit non-zero."""

from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from rebates.models import QuarterClose, Statement
from tests.factories import rebates as f


@pytest.mark.django_db
def test_a_close_as_of_a_future_date_is_refused_with_a_clear_message():
    partner = f.partner("P00001")
    f.order(partner=partner, customer=f.customer(), booked_on=date(2017, 3, 1), lines=[("server", "1000.00")])
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(CommandError, match=f"--as-of {tomorrow} is in the future .*nothing was closed"):
        call_command("close_quarter", "FY2018-Q1", "--as-of", tomorrow.isoformat())
    assert not QuarterClose.objects.exists() and not Statement.objects.exists()
    call_command("close_quarter", "FY2018-Q1", "--as-of", "2017-05-06", verbosity=0)
    assert Statement.objects.count() == 1
