"""The branded 500 page renders without the database: when PostgreSQL is down, a signed-in user still gets the
portal's page (not a bare "Internal Server Error" from the server)."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_signed_in_user_gets_the_branded_500_page_while_the_database_is_down(client, partner_user, django_db_blocker):
    client.force_login(partner_user)
    client.raise_request_exception = False
    with django_db_blocker.block():  # every database access now raises, as with PostgreSQL down
        response = client.get("/")
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert b'href="/static/css/portal.css"' in response.content and b"Partner Portal" in response.content


def test_the_500_page_runs_no_query_and_no_context_processor(rf, django_assert_num_queries):
    from portal.views import error_500

    with django_assert_num_queries(0):
        response = error_500(rf.get("/"))
    assert response.status_code == 500 and b"Back to the portal" in response.content
