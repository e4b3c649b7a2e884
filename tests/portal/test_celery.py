from portal.celery import app


def test_every_periodic_schedule_names_a_registered_idempotent_task():
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        task = app.tasks[entry["task"]]
        # A periodic job is claimed per period, so a redelivery after a worker crash is safe: ack late.
        assert task.acks_late and task.reject_on_worker_lost, entry["task"]


def test_schedules_are_in_utc():
    assert app.conf.timezone == "UTC" and app.conf.enable_utc


def test_redelivery_waits_far_longer_than_the_longest_task():
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit


def test_a_lost_task_is_redelivered_within_minutes_not_hours():
    """A task taken by a worker that died comes back after the visibility timeout plus one restore sweep."""
    options = app.conf.broker_transport_options
    sweep = options["unacked_restore_interval"] * options["unacked_restore_throttle"]
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit <= 15 * 60
    assert options["visibility_timeout"] + sweep <= 30 * 60


def test_every_task_that_queues_statement_emails_or_sweeps_survives_a_worker_crash():
    app.loader.import_default_modules()
    for name in (
        "rebates.tasks.statements_email",
        "rebates.tasks.statements_deliver",
        "rebates.tasks.statement_documents_render",
        "portal.tasks.outbox_send",
        "portal.tasks.task_outbox_dispatch",
    ):
        assert app.tasks[name].acks_late and app.tasks[name].reject_on_worker_lost, name
