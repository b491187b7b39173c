"""The knowledge base the bot and the help center answer from, and what readers said of it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from simcare.kit.crypto import EncryptedTextField


class KbLanguage(models.TextChoices):
    ZH_HANS = "zh-hans", _("Simplified Chinese")
    EN = "en", _("English")
    FR = "fr", _("French")


class Article(models.Model):
    """One help topic, e.g. slug "renew-plan-online", category "renewal".

    Its text lives in one ArticleTranslation per language. Only published
    articles are searched by the bot and the help center.
    """

    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    category = models.CharField(_("category"), max_length=40, blank=True)
    is_published = models.BooleanField(_("published"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    # Bumped by every save, admin edits of the translations included: the bot's
    # cached index is rebuilt when the newest stamp (or the count) changes.
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["category", "slug"]
        verbose_name = _("knowledge-base article")
        verbose_name_plural = _("knowledge-base articles")

    def __str__(self) -> str:
        return self.slug


class ArticleTranslation(models.Model):
    """An article in one language: its question, other ways of asking it, and the answer.

    Example (en): "How do I renew my plan online?", ["renew my plan", "how do I pay
    for next month"], "Sign in to My Account and choose Renew on your line…".
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(_("language"), max_length=8, choices=KbLanguage.choices)
    question = models.CharField(_("question"), max_length=300)
    alternatives = models.JSONField(
        _("alternative phrasings"),
        default=list,
        blank=True,
        help_text=_("Other ways customers ask this question, as a JSON list of strings."),
    )
    answer = models.TextField(_("answer"))

    class Meta:
        ordering = ["article", "language"]
        verbose_name = _("translation")
        verbose_name_plural = _("translations")
        constraints = [
            models.UniqueConstraint(
                fields=["article", "language"], name="care_translation_one_per_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.article_id} {self.language}"


class ArticleFeedback(models.Model):
    """One "was this helpful?" answer, e.g. renew-plan-online, fr, not helpful,
    asked as "comment payer le mois prochain"."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    language = models.CharField(_("language"), max_length=8, choices=KbLanguage.choices)
    is_helpful = models.BooleanField(_("helpful"))
    question = models.CharField(_("question asked"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # The bot's chat message it answers, when asked in the chat: one answer per message.
    chat_message = models.OneToOneField(
        "care.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="feedback",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("article feedback")
        verbose_name_plural = _("article feedback")
        indexes = [models.Index(fields=["article", "created_at"])]

    def __str__(self) -> str:
        return f"{self.article_id} {'+' if self.is_helpful else '-'}"


# --- chat, routing, business hours ---------------------------------------------------------


class Team(models.Model):
    """A group of agents with one weekly schedule, e.g. "Front line", Toronto time, Ontario
    holidays. The default team takes every new chat; transfers may move a chat to another."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=60, default="America/Toronto")
    # Whose statutory and provincial holidays close the team (holidays.Canada(subdiv=…)).
    province = models.CharField(_("holidays of province"), max_length=2, default="ON")
    is_default = models.BooleanField(_("takes new chats"), default=False)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("team lead"),
    )

    class Meta:
        verbose_name = _("care team")
        verbose_name_plural = _("care teams")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="care_one_default_team"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class OpeningHours(models.Model):
    """One opening span of a team on a weekday, in the team's time zone: Monday 09:00-17:00.
    A day may have several spans (a lunch break); a day with none is closed."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens_at = models.TimeField(_("opens at"))
    closes_at = models.TimeField(_("closes at"))

    class Meta:
        ordering = ["team", "weekday", "opens_at"]
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="care_hours_close_after_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


class Closure(models.Model):
    """A day a team (or, with no team, every team) is closed beyond the holidays: a staff
    party on 2026-12-24."""

    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="closures"
    )
    date = models.DateField(_("date"))
    reason = models.CharField(_("reason"), max_length=120, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("closure")
        verbose_name_plural = _("closures")

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.reason}"


class AgentProfile(models.Model):
    """What routing knows of an agent: languages spoken, chat limit, availability, team.
    Example: agent.chen speaks zh-hans and en, at most 3 chats, available, front line."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="agents"
    )
    languages = models.JSONField(_("languages"), default=list)
    max_concurrent_chats = models.PositiveSmallIntegerField(_("concurrent chat limit"), default=3)
    is_available = models.BooleanField(_("available"), default=False)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return str(self.user)


class ConversationStatus(models.TextChoices):
    BOT = "bot", _("With the bot")
    QUEUED = "queued", _("Waiting for a person")
    ACTIVE = "active", _("With an agent")
    TICKET = "ticket", _("Out of hours: a ticket")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (ConversationStatus.BOT, ConversationStatus.QUEUED, ConversationStatus.ACTIVE)


class Conversation(models.Model):
    """One chat of one visitor. Example: visitor key "v_3f…", Lin Wei signed in, zh-hans,
    queued at 10:02, VIP, offered to agent.chen, accepted 10:03, closed "resolved".

    The visitor key comes from the visitor's signed token (care/tokens.py); an anonymous
    visitor is known only by it. `offered_to` is the agent routing offered the waiting chat
    to; `agent` the one who accepted it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    visitor_key = models.CharField(max_length=64, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="care_conversations",
    )
    subscriber = models.ForeignKey(
        "accounts.Subscriber",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="care_conversations",
    )
    visitor_name = models.CharField(_("name"), max_length=120, blank=True)
    visitor_contact = models.CharField(_("number or email"), max_length=254, blank=True)
    language = models.CharField(_("language"), max_length=8, default="en")
    status = models.CharField(
        max_length=10, choices=ConversationStatus.choices, default=ConversationStatus.BOT
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    is_vip = models.BooleanField(default=False)
    offered_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="care_chats",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(_("close reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "queued_at"])]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")

    def __str__(self) -> str:
        return f"{self.public_id} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def display_name(self) -> str:
        if self.user is not None:
            return self.user.get_full_name() or self.user.username
        return self.visitor_name or str(_("Visitor"))


class Sender(models.TextChoices):
    VISITOR = "visitor", _("Visitor")
    BOT = "bot", _("Bot")
    AGENT = "agent", _("Agent")
    SYSTEM = "system", _("System")
    NOTE = "note", _("Internal note")


class Message(models.Model):
    """One message of a conversation, stored exactly as sent (HTML included: it is shown as
    text). Internal notes (sender "note") are for agents only. The id orders a conversation
    and is what a reconnecting client says it saw last."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.CharField(max_length=8, choices=Sender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    # The client's own id for a message it sent, so a resend after a drop is stored once.
    client_id = models.CharField(max_length=64, blank=True)
    # A checked file goes with it (ChatAttachment); the body then holds the file's name.
    has_attachment = models.BooleanField(default=False)
    # The knowledge-base article a bot message answered with: "was this helpful?" asks of it.
    article = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("chat message")
        verbose_name_plural = _("chat messages")
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=~Q(client_id=""),
                name="care_message_client_id_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.sender}: {self.body[:40]}"

    @property
    def is_visible_to_visitor(self) -> bool:
        return self.sender != Sender.NOTE


class TicketStatus(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING_CUSTOMER = "pending_customer", _("Pending customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


class TicketSource(models.TextChoices):
    CHAT = "chat", _("Chat")
    WEB = "web", _("Web form")
    EMAIL = "email", _("Email")
    ESCALATED = "escalated", _("Escalated chat")
    PHONE = "phone", _("Phone (voicemail)")


class TicketPriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    VIP = "vip", _("VIP")


# Statuses whose clock runs: a ticket waiting on the customer, resolved or closed has none.
TICKET_CLOCK_STATUSES = ("new", "open")
TICKET_OPEN_STATUSES = ("new", "open", "pending_customer")


class Ticket(models.Model):
    """A question someone will answer later: ticket #1042, "Roaming in France", from the web
    form of Lin Wei (signed in), priority high, team Front line, assigned to agent.chen.

    The SLA due times are stored when the ticket is made and moved when its priority
    changes or a wait on the customer ends (by the business minutes the wait took,
    `paused_business_minutes`); the `sla` job stamps a breach once in *_breached_at.
    """

    number = models.PositiveIntegerField(unique=True, null=True, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=TicketSource.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=TicketStatus.choices, default=TicketStatus.NEW
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    conversation = models.OneToOneField(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="ticket"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    created_at = models.DateTimeField(default=timezone.now)
    category = models.CharField(_("category"), max_length=40, blank=True)
    priority = models.CharField(
        _("priority"), max_length=8, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="care_tickets",
        verbose_name=_("assignee"),
    )
    language = models.CharField(_("language"), max_length=8, default="en")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requested_tickets",
    )
    subscriber = models.ForeignKey(
        "accounts.Subscriber",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="care_tickets",
    )
    requester_name = models.CharField(_("name"), max_length=120, blank=True)
    requester_email = models.EmailField(_("email"), blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    pending_since = models.DateTimeField(null=True, blank=True)
    paused_business_minutes = models.PositiveIntegerField(default=0)
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            models.Index(fields=["status", "first_response_due_at"], name="care_ticket_fr_due"),
            models.Index(fields=["status", "resolution_due_at"], name="care_ticket_res_due"),
        ]

    def __str__(self) -> str:
        return f"#{self.number}"

    @property
    def is_breached(self) -> bool:
        return bool(self.first_response_breached_at or self.resolution_breached_at)

    @property
    def requester_display(self) -> str:
        if self.user is not None:
            return self.user.get_full_name() or self.user.username
        return self.requester_name or str(_("Visitor"))


class TicketSender(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    SYSTEM = "system", _("System")


class TicketMessage(models.Model):
    """One message of a ticket's thread: the customer's question, an agent's reply, or an
    internal note (is_internal, agents only). A checked image or PDF may go with it."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    sender = models.CharField(max_length=8, choices=TicketSender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    is_internal = models.BooleanField(_("internal note"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    attachment = models.FileField(upload_to="care/tickets/%Y/%m/", blank=True)
    attachment_name = models.CharField(max_length=120, blank=True)
    attachment_content_type = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")

    def __str__(self) -> str:
        return f"{self.sender}: {self.body[:40]}"


class SlaPolicy(models.Model):
    """The targets of one priority, in the team's business time: normal, first response
    within 240 minutes, resolution within 2 business days (a business day is the team's
    opening minutes on an average open weekday). Resolution = minutes + days."""

    priority = models.CharField(
        _("priority"), max_length=8, choices=TicketPriority.choices, unique=True
    )
    first_response_minutes = models.PositiveIntegerField(_("first response (business minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution (business minutes)"), default=0)
    resolution_business_days = models.PositiveSmallIntegerField(
        _("resolution (business days, added)"), default=0
    )

    class Meta:
        ordering = ["priority"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.get_priority_display()


class SatisfactionRating(models.Model):
    """The customer's 1-5 rating of one closed chat or one closed ticket (exactly one of
    them), given once: 5, "quick and kind", agent.chen, Front line, fr."""

    conversation = models.OneToOneField(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="rating"
    )
    ticket = models.OneToOneField(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="rating"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="care_ratings",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="ratings"
    )
    language = models.CharField(_("language"), max_length=8, default="en")
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("satisfaction rating")
        verbose_name_plural = _("satisfaction ratings")
        constraints = [
            models.CheckConstraint(
                condition=Q(conversation__isnull=False, ticket__isnull=True)
                | Q(conversation__isnull=True, ticket__isnull=False),
                name="care_rating_one_subject",
            ),
            models.CheckConstraint(
                condition=Q(score__gte=1, score__lte=5), name="care_rating_score_1_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.score}/5"


class CannedResponse(models.Model):
    """A prepared reply in one language with placeholders: "Hi {first_name}, your line
    {msisdn} is renewed until {expiry_date}." Unknown placeholders stay as written."""

    language = models.CharField(_("language"), max_length=8)
    title = models.CharField(_("title"), max_length=80)
    body = models.TextField(_("text"))

    class Meta:
        ordering = ["language", "title"]
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")

    def __str__(self) -> str:
        return f"[{self.language}] {self.title}"


class ChatAttachment(models.Model):
    """A checked file a visitor sent in a chat: an image re-encoded without its metadata,
    or a PDF. Served only as a download, to those who may see the chat."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="attachment")
    file = models.FileField(upload_to="care/attachments/%Y/%m/")
    name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("chat attachment")
        verbose_name_plural = _("chat attachments")

    def __str__(self) -> str:
        return self.name


# --- identity verification ---------------------------------------------------------------


class VerificationMethod(models.TextChoices):
    SMS_CODE = "sms_code", _("Code by SMS")
    EMAIL_CODE = "email_code", _("Code by email")
    PIN_DOB = "pin_dob", _("Account PIN and date of birth")


class VerificationStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the code")
    VERIFIED = "verified", _("Verified")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Replaced by a newer check")


class IdentityCheck(models.Model):
    """One identity check an agent ran in a chat, e.g. a code sent by SMS to Lin Wei's line
    +1 416 555 0142 at 10:04, typed in the chat at 10:05: verified, valid for the chat
    until 10:20. Or the account PIN with the date of birth, entered by the agent.

    Only an HMAC of the code is kept for checking it; the code itself is held encrypted
    until the outbox has had its chance to send it and is wiped when the check ends
    (care/verification.py)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="identity_checks"
    )
    subscriber = models.ForeignKey(
        "accounts.Subscriber", on_delete=models.CASCADE, related_name="identity_checks"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    method = models.CharField(_("method"), max_length=12, choices=VerificationMethod.choices)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=VerificationStatus.choices,
        default=VerificationStatus.PENDING,
    )
    line = models.ForeignKey(
        "lines.Line", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    code_hash = models.CharField(max_length=64, blank=True)
    code_secret = EncryptedTextField(blank=True, default="")
    failures = models.PositiveSmallIntegerField(_("failed tries"), default=0)
    created_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    code_expires_at = models.DateTimeField(_("code expires at"), null=True, blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    bound_until = models.DateTimeField(_("valid for the chat until"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["subscriber", "created_at"])]
        verbose_name = _("identity check")
        verbose_name_plural = _("identity checks")

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.get_status_display()}"
