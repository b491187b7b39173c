"""The hotline's state between Twilio's webhook steps, and the voicemails it takes."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CallSession(models.Model):
    """One phone call to the hotline, keyed by Twilio's CallSid.

    Example: CA5f…, from +14165550142, found to be Lin Wei's line, language
    zh-hans, one wrong account PIN so far, not yet verified. Every webhook of
    the call reads and updates this row, so any web process can answer the
    next step.
    """

    call_sid = models.CharField(max_length=64, unique=True)
    caller = models.CharField(_("caller"), max_length=32, blank=True)
    subscriber = models.ForeignKey(
        "accounts.Subscriber", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    line = models.ForeignKey(
        "lines.Line", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    language = models.CharField(_("language"), max_length=8, blank=True)
    pin_failures = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("hotline call")
        verbose_name_plural = _("hotline calls")

    def __str__(self) -> str:
        return self.call_sid


class Voicemail(models.Model):
    """A message left on the hotline out of business hours, for an agent to call back; it
    becomes a care ticket (source "phone") as soon as its recording arrives.

    Example: from +14165550142 (Lin Wei), 42 s, in zh-hans, recording at
    https://api.twilio.com/…/Recordings/RE…, not yet handled. One per call:
    Twilio's recording callback may arrive more than once.
    """

    call_sid = models.CharField(max_length=64, unique=True)
    caller = models.CharField(_("caller"), max_length=32, blank=True)
    subscriber = models.ForeignKey(
        "accounts.Subscriber",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="voicemails",
        verbose_name=_("subscriber"),
    )
    recording_url = models.URLField(_("recording"), max_length=500, blank=True)
    recording_sid = models.CharField(max_length=64, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duration (s)"), default=0)
    language = models.CharField(_("language"), max_length=8, blank=True)
    created_at = models.DateTimeField(_("left at"), default=timezone.now, db_index=True)
    is_handled = models.BooleanField(_("handled"), default=False)
    # The care ticket agents work it from (source "phone"), opened once the recording is in.
    ticket = models.OneToOneField(
        "care.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="voicemail",
        verbose_name=_("ticket"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("voicemail")
        verbose_name_plural = _("voicemails")

    def __str__(self) -> str:
        return f"{self.caller} {self.created_at:%Y-%m-%d %H:%M}"
