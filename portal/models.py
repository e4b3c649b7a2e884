"""Shared kernel models: users, the program's calendar settings, claimed job runs and their failed items, the
task and email outboxes."""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from .memo import request_memo


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A portal login: channel staff, or a partner user (through ``partners.Membership``)."""

    username = None
    email = models.EmailField(_("email address"), unique=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="en")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self):
        return self.get_full_name() or self.email


class Program(models.Model):
    """The program's calendar and global numbers (DESIGN §2–§6); one row, editable by staff."""

    name = models.CharField(_("name"), max_length=100, default="Dell EMC Partner Program")
    start_date = models.DateField(_("program start"), default=date(2017, 2, 1))
    exclusivity_multiplier = models.DecimalField(
        _("1.25X multiplier"),
        max_digits=5,
        decimal_places=3,
        default=Decimal("1.250"),
        validators=[MinValueValidator(Decimal("1"))],
    )
    tier_window_months = models.PositiveSmallIntegerField(_("qualifying revenue window (months)"), default=12)
    new_business_lookback_months = models.PositiveSmallIntegerField(_("new-business look-back (months)"), default=36)
    channel_lock_months = models.PositiveSmallIntegerField(_("channel lock (months)"), default=36)
    titanium_black_months = models.PositiveSmallIntegerField(_("Titanium Black validity (months)"), default=12)
    registration_max_close_months = models.PositiveSmallIntegerField(_("max close date (months ahead)"), default=12)
    registration_extension_days = models.PositiveSmallIntegerField(_("extension (days)"), default=60)
    registration_extension_window_days = models.PositiveSmallIntegerField(_("extension window (days)"), default=30)
    registration_reminder_days = models.CharField(_("reminders (days before end)"), max_length=50, default="14,3")
    registration_decision_target_hours = models.PositiveSmallIntegerField(_("staff decision target (h)"), default=48)
    routing_offer_days = models.PositiveSmallIntegerField(_("routed order offer (days)"), default=5)
    statement_delay_days = models.PositiveSmallIntegerField(_("statement issue delay (days)"), default=5)

    class Meta:
        verbose_name = _("program settings")
        verbose_name_plural = _("program settings")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="program_singleton")]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> "Program":
        """The program's settings (read once per request: a page asks for them in several places)."""
        return request_memo("program", cls._read)

    @classmethod
    def _read(cls) -> "Program":
        program, _created = cls.objects.get_or_create(pk=1)
        return program

    @property
    def reminder_days(self) -> list[int]:
        return sorted({int(part) for part in self.registration_reminder_days.split(",") if part.strip()}, reverse=True)


class JobRun(models.Model):
    """One claimed run of a periodic job for one period (a date, a quarter): the exactly-once key."""

    name = models.CharField(max_length=100)
    period = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    runs = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    # The task that made the claim and its resolved arguments: a claim left unfinished (its worker was killed)
    # is dispatched again with them by the beat sweeper (``portal.jobs.job_claims_redispatch``).
    task_name = models.CharField(max_length=200, blank=True)
    task_kwargs = models.JSONField(default=dict, blank=True)
    redispatches = models.PositiveSmallIntegerField(default=0)
    # A chunk of a job split over workers (``portal.chunks``): its run is the parent, finished after its chunks.
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="chunks")

    class Meta:
        verbose_name = _("job run")
        constraints = [models.UniqueConstraint(fields=["name", "period"], name="jobrun_name_period_unique")]
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} {self.period}"


class TaskOutbox(models.Model):
    """A Celery task recorded in the transaction of the change that needs it, dispatched to the broker after commit.

    A broker outage cannot lose the task nor fail the request: an undispatched row is sent again by the beat
    sweeper. ``key`` makes recording idempotent (the same change queued twice is one task); dispatch is
    at-least-once, so every task is idempotent itself.
    """

    name = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    key = models.CharField(_("key"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    dispatched_at = models.DateTimeField(_("dispatched"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("queued task")
        verbose_name_plural = _("queued tasks")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["created_at"], condition=models.Q(dispatched_at__isnull=True), name="taskoutbox_pending"
            )
        ]

    def __str__(self):
        return f"{self.name} {self.key}"


class JobItemFailure(models.Model):
    """One item of a nightly job that failed on its own while the rest of its batch was processed.

    Written by ``portal.batches.run_isolated``: one row per (job, item), updated each night it fails again
    (``last_seen``, ``attempts``, the latest error) and marked resolved the first run it succeeds.
    """

    job = models.CharField(_("job"), max_length=100)
    item = models.CharField(_("item"), max_length=200)
    period = models.CharField(_("last failed run"), max_length=40)
    error = models.TextField(_("error"))
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("job item failure")
        constraints = [models.UniqueConstraint(fields=["job", "item"], name="jobitemfailure_job_item_unique")]
        indexes = [models.Index(fields=["job", "resolved_at"])]
        ordering = ["-last_seen"]

    def __str__(self):
        return f"{self.job} {self.item}"


class OutboxEmail(models.Model):
    """An email to send once: the unique key makes a second send of the same message impossible."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    key = models.CharField(max_length=200, unique=True)
    to = models.JSONField()
    # Rendered by the send task (``portal.emails``), from ``template`` in ``language`` with ``context``, and kept
    # as sent; a row queued before rendering moved there has them from the start (no template).
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    # A database default too: a row inserted by code that predates these columns (a rolling deploy) is valid.
    template = models.CharField(max_length=200, blank=True, default="", db_default="")
    language = models.CharField(max_length=10, blank=True, default="", db_default="")
    context = models.JSONField(null=True, blank=True)  # ``portal.emailcontext``: references, not rendered text
    rendered_at = models.DateTimeField(null=True, blank=True)
    html_body = models.TextField(blank=True)
    attachment_name = models.CharField(max_length=200, blank=True)
    attachment_content_type = models.CharField(max_length=100, blank=True)
    attachment = models.BinaryField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing email")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.subject or self.template} → {', '.join(self.to)}"


class ImportRun(models.Model):
    """One import of a CSV file (who, when, what file, what it did): all-or-nothing, recorded either way."""

    class Kind(models.TextChoices):
        PARTNERS = "partners", _("partners")
        CERTIFICATIONS = "certifications", _("certifications")
        ORDERS = "orders", _("orders")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")  # uploaded, waiting for a worker
        RUNNING = "running", _("running")
        APPLIED = "applied", _("applied")
        REJECTED = "rejected", _("rejected")
        FAILED = "failed", _("failed")  # stopped by an unexpected error: nothing was imported

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    file_name = models.CharField(_("file"), max_length=255)
    file_sha256 = models.CharField(_("SHA-256"), max_length=64)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    # ``errors`` keeps the first errors; this counts them all.
    error_count = models.PositiveIntegerField(_("errors found"), default=0)
    # An upload imported by a worker: the file as uploaded, kept with the run (the import log is an audit trail).
    upload = models.FileField(_("uploaded file"), upload_to="imports/%Y/%m/", blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.kind} {self.file_name} ({self.status})"


class Heartbeat(models.Model):
    """The last time a periodic task ran: written by the beat sweeper each minute, read by ``/health/jobs``.

    A fresh beat proves the whole chain works: beat scheduled it, the broker carried it and a worker ran it.
    """

    name = models.CharField(max_length=100, primary_key=True)
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("heartbeat")

    def __str__(self):
        return f"{self.name} {self.seen_at:%Y-%m-%d %H:%M:%S}"
