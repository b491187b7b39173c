"""Orders, payments, saved payment methods, vouchers, coupons, promotions, receipts, auto-renew.

Money is integer cents (CAD). An order keeps the prices it was sold at: its items
copy the catalog price of the moment, so a later price change never alters it.
Prices in the catalog exclude sales tax; the order adds the tax of the
subscriber's province (orders/tax.py) on top of the discounted subtotal.
Wallet top-ups and voucher redemptions are stored value, not a sale: no tax.

Ledger postings (sign convention in simcare.ledger.models), one transaction each:
- renewal paid from the wallet, $35 plan, $5 coupon, 13% HST:
  wallet -3390, expense:promotions -500, revenue:plans +3500, liability:sales_tax +390
- the same paid by card: clearing:stripe -3390 instead of the wallet entry
- wallet top-up of $20 by card: clearing:stripe -2000, wallet +2000
- voucher redeemed: liability:vouchers -2500, wallet +2500
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from simcare.kit.money import CURRENCY


class OrderKind(models.TextChoices):
    NEW_LINE = "new_line", _("New line")
    RENEWAL = "renewal", _("Renewal")
    ADDON = "addon", _("Add-on")
    WALLET_TOPUP = "wallet_topup", _("Wallet top-up")


class SalesChannel(models.TextChoices):
    WEB = "web", _("Web")
    AGENT = "agent", _("Agent")
    STORE = "store", _("Store")
    IVR = "ivr", _("Phone (IVR)")
    RESELLER = "reseller", _("Reseller")
    AUTO = "auto", _("Auto-renew")


class OrderState(models.TextChoices):
    PENDING = "pending", _("Awaiting payment")
    PAID = "paid", _("Paid")
    FULFILLED = "fulfilled", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    FAILED = "failed", pgettext_lazy("order state", "Failed")
    REFUNDED = "refunded", pgettext_lazy("order state", "Refunded")


class PaymentMethod(models.TextChoices):
    WALLET = "wallet", _("Wallet")
    VOUCHER = "voucher", _("Voucher PIN")
    CARD = "card", _("Card")
    PAYPAL = "paypal", _("PayPal")
    CASH = "cash", _("Cash")
    RESELLER_FLOAT = "reseller_float", _("Reseller float")


class Order(models.Model):
    """One purchase: a new line, a renewal, an add-on or a wallet top-up.

    Example: order 1042, renewal of +14165550142 on TALK30 via web, paid by wallet,
    subtotal 3500, discount 500 (coupon WELCOME5), tax 390 (HST 13% ON), total 3390,
    pending → paid → fulfilled in one database transaction.

    idempotency_key is scoped by who asked ("user:7:<Idempotency-Key header>",
    "reseller:3:<external_order_no>", "auto:<line>:<period_end epoch>:<attempt>"), so the
    same key twice returns this order; request_fingerprint is a hash of what was asked,
    so the same key with a different request is refused as a conflict.
    """

    kind = models.CharField(_("kind"), max_length=16, choices=OrderKind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=SalesChannel.choices)
    state = models.CharField(
        _("state"), max_length=10, choices=OrderState.choices, default=OrderState.PENDING
    )
    subscriber = models.ForeignKey(
        "accounts.Subscriber",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("subscriber"),
    )
    line = models.ForeignKey(
        "lines.Line",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("line"),
    )
    plan = models.ForeignKey(
        "catalog.Plan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("plan"),
    )
    addon = models.ForeignKey(
        "catalog.AddOn",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("add-on"),
    )
    sim_kind = models.CharField(_("SIM kind"), max_length=8, blank=True)
    periods = models.PositiveSmallIntegerField(_("periods"), default=1)
    store = models.ForeignKey(
        "stores.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("store"),
    )
    currency = models.CharField(max_length=3, default=CURRENCY)
    subtotal_cents = models.PositiveIntegerField(_("subtotal (cents)"), default=0)
    discount_cents = models.PositiveIntegerField(_("discount (cents)"), default=0)
    tax_cents = models.PositiveIntegerField(_("tax (cents)"), default=0)
    total_cents = models.PositiveIntegerField(_("total (cents)"), default=0)
    refunded_cents = models.PositiveIntegerField(_("refunded (cents)"), default=0)
    # [{"name": "HST", "rate": "13", "amount_cents": 390}], from orders/tax.py at sale time.
    taxes = models.JSONField(_("taxes"), default=list, blank=True)
    province = models.CharField(_("province"), max_length=2, blank=True)
    coupon = models.ForeignKey(
        "orders.Coupon",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("coupon"),
    )
    promotion = models.ForeignKey(
        "orders.Promotion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("promotion"),
    )
    payment_method = models.CharField(
        _("payment method"), max_length=16, choices=PaymentMethod.choices
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    ledger_transaction = models.ForeignKey(
        "ledger.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("payment transaction"),
    )
    # Set when the reseller API (or another partner channel) placed the order.
    reseller_ref = models.CharField(_("reseller"), max_length=64, blank=True, db_index=True)
    external_reference = models.CharField(_("external reference"), max_length=120, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    fulfilled_at = models.DateTimeField(_("fulfilled at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("cancelled, failed or refunded at"), null=True, blank=True)
    failure_code = models.CharField(_("failure code"), max_length=60, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["subscriber", "created_at"]),
            models.Index(fields=["state", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(refunded_cents__lte=models.F("total_cents")),
                name="orders_order_refund_within_total",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        """The order number customers and agents quote, e.g. "SC-0001042"."""
        return f"SC-{self.pk or 0:07d}"


class ItemKind(models.TextChoices):
    PLAN = "plan", _("Plan")
    ADDON = "addon", _("Add-on")
    TOPUP = "topup", _("Wallet top-up")
    FEE = "fee", _("Fee")


class OrderItem(models.Model):
    """One line of an order as sold, e.g. "TALK30 Canada 30 days", quantity 2 at 3500 = 7000.

    description is kept in the order's language; code names the catalog row.
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=8, choices=ItemKind.choices)
    code = models.CharField(max_length=40)
    description = models.CharField(max_length=200)
    quantity = models.PositiveSmallIntegerField(default=1)
    unit_price_cents = models.PositiveIntegerField()
    amount_cents = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        verbose_name = _("order item")
        verbose_name_plural = _("order items")

    def __str__(self) -> str:
        return f"{self.code} x {self.quantity}"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")


class Payment(models.Model):
    """One attempt to collect an order's money through a provider or the wallet.

    Example: card via Stripe, Checkout Session cs_test_a1B2, 3390 cents, pending until
    the verified checkout.session.completed webhook, then succeeded.
    provider_reference is unique per provider: a webhook delivered twice finds it.
    """

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    provider = models.CharField(max_length=20, blank=True)
    provider_reference = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    amount_cents = models.PositiveIntegerField()
    refunded_cents = models.PositiveIntegerField(default=0)
    redirect_url = models.URLField(max_length=2000, blank=True)
    ledger_transaction = models.ForeignKey(
        "ledger.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    failure_code = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~Q(provider_reference=""),
                name="orders_payment_provider_reference_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.amount_cents} {self.status}"


class SavedPaymentMethod(models.Model):
    """A card the subscriber saved for auto-renew (Stripe SetupIntent), e.g. Visa •••• 4242.

    Only the provider's ids and what the card shows are kept; no card number.
    """

    subscriber = models.ForeignKey(
        "accounts.Subscriber", on_delete=models.CASCADE, related_name="payment_methods"
    )
    provider = models.CharField(max_length=20, default="stripe")
    customer_reference = models.CharField(max_length=200)
    method_reference = models.CharField(max_length=200)
    brand = models.CharField(max_length=20, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    is_default = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("saved payment method")
        verbose_name_plural = _("saved payment methods")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "method_reference"], name="orders_saved_method_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4}"


class VoucherBatch(models.Model):
    """A print run of prepaid cards, e.g. "Dec 2026 $25 cards": 500 cards of 2500 cents.

    The plain PINs exist only in the one-time CSV export (pins_exported_at records it).
    """

    name = models.CharField(_("name"), max_length=120)
    value_cents = models.PositiveIntegerField(_("value (cents)"))
    count = models.PositiveIntegerField(_("count"))
    expires_at = models.DateTimeField(_("expires at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    pins_exported_at = models.DateTimeField(_("PINs exported at"), null=True, blank=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("voucher batch")
        verbose_name_plural = _("voucher batches")

    def __str__(self) -> str:
        return self.name


class VoucherStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    REDEEMED = "redeemed", _("Redeemed")
    VOID = "void", _("Void")


class Voucher(models.Model):
    """One prepaid card: public serial "V0000420000010", a secret 16-digit PIN kept as a keyed hash.

    Redeeming moves value_cents from liability:vouchers to the subscriber's wallet, once.
    Sold at a store (sold_at, sold_store): cash:<store> → liability:vouchers, once.
    """

    batch = models.ForeignKey(VoucherBatch, on_delete=models.PROTECT, related_name="vouchers")
    serial = models.CharField(_("serial"), max_length=20, unique=True)
    pin_hash = models.CharField(max_length=64, unique=True)
    value_cents = models.PositiveIntegerField(_("value (cents)"))
    status = models.CharField(
        _("status"), max_length=10, choices=VoucherStatus.choices, default=VoucherStatus.ACTIVE
    )
    expires_at = models.DateTimeField(_("expires at"))
    redeemed_by = models.ForeignKey(
        "accounts.Subscriber",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="redeemed_vouchers",
    )
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    ledger_transaction = models.ForeignKey(
        "ledger.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # A card sold over a store's counter (orders.services.vouchers.sell_voucher); cards
    # that third-party retailers sell are never "sold" here and redeem all the same.
    sold_at = models.DateTimeField(_("sold at"), null=True, blank=True)
    sold_store = models.ForeignKey(
        "stores.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="vouchers_sold",
        verbose_name=_("sold at store"),
    )
    sold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("sold by"),
    )
    sale_key = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["serial"]
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")

    def __str__(self) -> str:
        return self.serial


class VoucherFailure(models.Model):
    """One wrong PIN, for the lockout: 5 in an hour lock the account and the IP for an hour."""

    subscriber = models.ForeignKey(
        "accounts.Subscriber", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["subscriber", "created_at"]),
            models.Index(fields=["ip_address", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.subscriber_id} {self.ip_address}"


class DiscountKind(models.TextChoices):
    PERCENT = "percent", _("Percent off")
    FIXED = "fixed", _("Amount off")


class Coupon(models.Model):
    """A code a customer types, e.g. WELCOME5: $5 off a first order of at least $20, web only.

    Empty plans means every plan; empty channels means every channel.
    times_used counts fulfilled orders (F() under a row lock).
    """

    code = models.CharField(_("code"), max_length=40, unique=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=DiscountKind.choices)
    percent_off = models.PositiveSmallIntegerField(_("percent off"), null=True, blank=True)
    amount_off_cents = models.PositiveIntegerField(_("amount off (cents)"), null=True, blank=True)
    minimum_spend_cents = models.PositiveIntegerField(_("minimum spend (cents)"), default=0)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    max_uses_total = models.PositiveIntegerField(_("uses in total"), null=True, blank=True)
    max_uses_per_customer = models.PositiveIntegerField(
        _("uses per customer"), null=True, blank=True
    )
    plans = models.ManyToManyField("catalog.Plan", blank=True, related_name="+")
    channels = models.JSONField(_("channels"), default=list, blank=True)
    first_order_only = models.BooleanField(_("first order only"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    times_used = models.PositiveIntegerField(_("times used"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="percent", percent_off__gte=1, percent_off__lte=100))
                | Q(kind="fixed", amount_off_cents__gte=1),
                name="orders_coupon_discount_set",
            )
        ]

    def __str__(self) -> str:
        return self.code


class CouponUse(models.Model):
    """A coupon used by one order (one coupon per order)."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="uses")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="coupon_use")
    subscriber = models.ForeignKey(
        "accounts.Subscriber", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    discount_cents = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.coupon_id} order {self.order_id}"


class PromotionKind(models.TextChoices):
    RENEW_AHEAD_BONUS = "renew_ahead_bonus", _("Bonus add-on for renewing several periods ahead")


class Promotion(models.Model):
    """An automatic offer, no code: e.g. renew 3 periods ahead, get a 5 GB bonus add-on."""

    name_en = models.CharField(_("name (English)"), max_length=120)
    name_fr = models.CharField(_("name (French)"), max_length=120)
    name_zh_hans = models.CharField(_("name (Simplified Chinese)"), max_length=120)
    kind = models.CharField(_("kind"), max_length=24, choices=PromotionKind.choices)
    minimum_periods = models.PositiveSmallIntegerField(_("minimum periods"), default=3)
    bonus_addon = models.ForeignKey(
        "catalog.AddOn", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    plans = models.ManyToManyField("catalog.Plan", blank=True, related_name="+")
    channels = models.JSONField(_("channels"), default=list, blank=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name_en"]
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")

    def __str__(self) -> str:
        return self.name_en


class Receipt(models.Model):
    """The receipt of one paid order, numbered in issue order: "R-2026-0001042".

    The number comes from the row's id, so concurrent orders never share one.
    """

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="receipt")
    issued_at = models.DateTimeField(default=timezone.now)
    language = models.CharField(max_length=10, default="en")

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"R-{self.issued_at:%Y}-{self.pk or 0:07d}"


class AutoRenewSetting(models.Model):
    """How a line renews itself: wallet first, then the saved card; optional data auto-top-up.

    Line.auto_renew is the on/off switch; this row holds the choices behind it.
    Example: +14165550142, card Visa •••• 4242, buy DATA1 when data falls under 512,000 KB.
    """

    line = models.OneToOneField(
        "lines.Line", on_delete=models.CASCADE, related_name="renew_setting"
    )
    payment_method = models.ForeignKey(
        SavedPaymentMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data_topup_enabled = models.BooleanField(_("data auto-top-up"), default=False)
    data_topup_addon = models.ForeignKey(
        "catalog.AddOn", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data_topup_threshold_kb = models.PositiveBigIntegerField(default=512 * 1024)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"auto-renew of line {self.line_id}"


class AttemptStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class AutoRenewAttempt(models.Model):
    """One try of the auto_renew job for one period of one line, e.g. attempt 2 at period_end.

    Unique per (line, period_end, attempt): a job run twice tries once.
    """

    line = models.ForeignKey("lines.Line", on_delete=models.CASCADE, related_name="renew_attempts")
    period_end = models.DateTimeField()
    attempt = models.PositiveSmallIntegerField()
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=AttemptStatus.choices, default=AttemptStatus.SCHEDULED
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    failure_code = models.CharField(max_length=60, blank=True)
    tried_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["line", "period_end", "attempt"]
        constraints = [
            models.UniqueConstraint(
                fields=["line", "period_end", "attempt"], name="orders_autorenew_attempt_unique"
            )
        ]
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"line {self.line_id} period {self.period_end:%Y-%m-%d} attempt {self.attempt}"
