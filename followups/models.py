"""Organizations (tenants), users, the lead pool and follow-up records (tables keep the seed names)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dcc_project.phones import mask_phone


class Interest(models.IntegerChoices):
    """``is_interested``: NULL means 待跟进 (not judged yet)."""

    UNDECIDED = 0, _("Cannot tell")
    INTERESTED = 1, _("Interested")
    NOT_INTERESTED = 2, _("Not interested")


PENDING_INTEREST_LABEL = _("Pending follow-up")


def interest_label(value: int | None) -> str:
    if value is None:
        return str(PENDING_INTEREST_LABEL)
    try:
        return str(Interest(value).label)
    except ValueError:
        return str(value)


class Organization(models.Model):
    """A dealership: every lead, task and user belongs to exactly one."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.CharField(_("organization code"), max_length=20, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        db_table = "organizations"
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A supervisor or API user; belongs to one organization (superusers may have none)."""

    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )

    class Meta(AbstractUser.Meta):
        db_table = "users"
        verbose_name = _("user")
        verbose_name_plural = _("users")
        permissions = [("view_full_phone", _("Can see full phone numbers"))]


class Lead(models.Model):
    """The lead pool (线索)."""

    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="leads"
    )
    leads_id = models.CharField(_("lead id"), max_length=50)
    leads_user_name = models.CharField(_("customer name"), max_length=100, blank=True)
    leads_user_phone = models.CharField(_("phone number"), max_length=20)
    leads_product = models.CharField(_("product"), max_length=100, blank=True)
    leads_type = models.CharField(_("lead grade"), max_length=20, blank=True)
    leads_create_time = models.DateTimeField(_("lead created at"), default=timezone.now)
    updated_time = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "dcc_leads"
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-leads_create_time", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "leads_id"], name="uniq_lead_business_id_per_org"),
        ]
        indexes = [
            models.Index(fields=["organization", "leads_user_phone"], name="lead_org_phone_idx"),
            models.Index(fields=["organization", "leads_product"], name="lead_org_product_idx"),
            models.Index(fields=["organization", "leads_type"], name="lead_org_grade_idx"),
            models.Index(fields=["organization", "leads_create_time"], name="lead_org_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.leads_user_name or self.leads_id} ({mask_phone(self.leads_user_phone)})"

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.leads_user_phone)


class FollowUp(models.Model):
    """A follow-up record (跟进记录): one per called lead row, or written by hand."""

    class Source(models.TextChoices):
        AI_CALL = "ai_call", _("AI call")
        MANUAL = "manual", _("Manual")

    class Judge(models.TextChoices):
        LLM = "llm", _("LLM")
        RULES = "rules", _("Rules")
        DEFAULT = "default", _("Default (analysis failed)")
        NONE = "none", _("No analysis (not connected)")

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="follow_ups")
    lead_task = models.OneToOneField(
        "calltasks.LeadTask",
        verbose_name=_("task lead row"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_up",
    )
    follow_time = models.DateTimeField(_("follow-up time"), default=timezone.now)
    leads_remark = models.CharField(_("remark"), max_length=1000, blank=True)
    first_follow_time = models.DateTimeField(_("first follow-up time"), null=True, blank=True)
    new_follow_time = models.DateTimeField(_("latest follow-up time"), null=True, blank=True)
    next_follow_time = models.DateTimeField(_("next follow-up time"), null=True, blank=True)
    is_arrive = models.BooleanField(_("visited the store"), default=False)
    first_arrive_time = models.DateTimeField(_("first store visit"), null=True, blank=True)
    is_interested = models.SmallIntegerField(_("interest"), choices=Interest.choices, null=True, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.MANUAL)
    judge = models.CharField(_("judged by"), max_length=16, choices=Judge.choices, blank=True)
    judged_at = models.DateTimeField(_("judged at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_time = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "dcc_leads_follow"
        verbose_name = _("follow-up record")
        verbose_name_plural = _("follow-up records")
        ordering = ["-follow_time", "-id"]
        indexes = [
            models.Index(fields=["lead", "follow_time"], name="follow_lead_time_idx"),
            models.Index(fields=["next_follow_time"], name="follow_next_idx"),
            models.Index(fields=["first_follow_time"], name="follow_first_idx"),
            models.Index(fields=["new_follow_time"], name="follow_latest_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_interested__isnull=True) | models.Q(is_interested__in=[0, 1, 2]),
                name="follow_interest_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(is_arrive=True) | models.Q(first_arrive_time__isnull=True),
                name="follow_arrive_time_only_if_arrived",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} @ {self.follow_time:%Y-%m-%d %H:%M}"
