"""The shared date widget: the browser's date picker needs an ISO value, in every language."""

from datetime import date

from django.utils import translation

from portal.widgets import DateInput


def test_the_date_input_renders_an_iso_value_in_french_too():
    with translation.override("fr"):
        html = DateInput().render("paid_on", date(2017, 6, 1))
    assert 'type="date"' in html
    assert 'value="2017-06-01"' in html
