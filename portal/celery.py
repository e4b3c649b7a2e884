"""The Celery app, and every periodic schedule of the program in one place (UTC)."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Options for tasks that are safe to run twice (claimed per period, or checked state): acknowledge after the work,
# so a worker killed mid-task has its message redelivered instead of lost. Others keep the default (ack on receipt).
IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}

# Nightly jobs run in dependency order: tiers first (deals and rebates read them), then locks,
# routing and registration expiry. The quarter close runs daily and closes a quarter only once its
# statement delay has passed; each job claims (name, period) so a second beat or a re-delivery is a no-op.
app.conf.beat_schedule = {
    "tiers-recompute-nightly": {"task": "partners.tasks.tier_recompute_nightly", "schedule": crontab(hour=1, minute=0)},
    "titanium-black-expire-nightly": {
        "task": "partners.tasks.titanium_black_expire_nightly",
        "schedule": crontab(hour=1, minute=30),
    },
    "channel-locks-nightly": {"task": "deals.tasks.channel_locks_apply_nightly", "schedule": crontab(hour=2, minute=0)},
    "route-direct-orders-nightly": {
        "task": "deals.tasks.route_direct_orders_nightly",
        "schedule": crontab(hour=2, minute=30),
    },
    "registrations-expire-nightly": {
        "task": "deals.tasks.registrations_expire_nightly",
        "schedule": crontab(hour=3, minute=0),
    },
    "quarter-close-daily": {"task": "rebates.tasks.quarter_close_due", "schedule": crontab(hour=4, minute=0)},
    # The sweepers: what a broker outage or a killed worker left undone is finished within minutes.
    "task-outbox-dispatch": {"task": "portal.tasks.task_outbox_dispatch", "schedule": crontab(minute="*")},
    "outbox-send": {"task": "portal.tasks.outbox_send_pending", "schedule": crontab(minute="*/5")},
    "job-claims-redispatch": {"task": "portal.tasks.job_claims_redispatch", "schedule": crontab(minute="*/5")},
    "statements-email-sweep": {"task": "rebates.tasks.statements_email_sweep", "schedule": crontab(minute=15)},
    "api-webhook-deliveries-due": {"task": "api.tasks.webhook_deliveries_due", "schedule": crontab(minute="*")},
    "api-idempotency-prune": {"task": "api.tasks.idempotent_requests_prune", "schedule": crontab(hour=5, minute=30)},
}
