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
