"""Load the demo data once, through the product's own services.

Every step looks up what an earlier run created (by plan code, store code,
username, msisdn, ICCID) and creates only what is missing, so a second run
changes nothing and keeps the logins of demo-credentials.json. Lines are
activated at past times and then moved by the real lifecycle job, so a line
in grace or a recycled number got there the way a customer's would.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from simcare.accounts.models import Role, Subscriber, User
from simcare.accounts.services import create_staff, create_subscriber, record_audit
from simcare.catalog.models import AddOn, Plan
from simcare.demo import credentials, inventory
from simcare.lines import lifecycle
from simcare.lines.models import LineState, Number, NumberStatus, SimCard, SimKind, SimStatus
from simcare.lines.services import activate_line
from simcare.lines.stock import ImportReport, import_esims, import_numbers, import_sims
from simcare.ops.jobs import discover, run_job
from simcare.orders import pins
from simcare.orders.models import Voucher, VoucherBatch, VoucherStatus
from simcare.orders.services import vouchers as voucher_services
from simcare.partners import services as partner_services
from simcare.partners.models import Reseller, WholesalePrice
from simcare.stores.models import Store

TOTP_DEVICE_NAME = "demo authenticator"
# The jobs that take the freshly activated lines to the states of their stories.
JOBS_AFTER_LOADING = ("lifecycle", "reminders")
CITY_STORES = {"toronto": "TOR-01", "vancouver": "VAN-01", "montreal": "MTL-01"}
DEMO_BATCH_NAME = "Demo vouchers"
DEMO_VOUCHER_COUNT = 3
DEMO_VOUCHER_CENTS = 2500


class DemoDataError(RuntimeError):
    """The demo's own data did not load: a bug in the demo files, not a user error."""


@dataclass
class LoadSummary:
    """What one run created; all zeros on a re-run."""

    plans: int = 0
    addons: int = 0
    stores: int = 0
    users: int = 0
    numbers: int = 0
    sims: int = 0
    esims: int = 0
    lines: int = 0
    vouchers: int = 0
    kb_articles: int = 0
    resellers: int = 0
    teams: int = 0
    jobs: list[str] = field(default_factory=list)

    @property
    def created_anything(self) -> bool:
        return any(
            (
                self.plans,
                self.addons,
                self.stores,
                self.users,
                self.numbers,
                self.sims,
                self.esims,
                self.lines,
                self.vouchers,
                self.kb_articles,
                self.resellers,
                self.teams,
            )
        )


def read_data(name: str) -> Any:
    return json.loads(resources.files("simcare.demo").joinpath(name).read_text(encoding="utf-8"))


# --- catalog and stores ------------------------------------------------------------


def load_catalog(summary: LoadSummary) -> None:
    catalog = read_data("catalog.json")
    for plan in catalog["plans"]:
        fields = {key: value for key, value in plan.items() if key != "code"}
        _, created = Plan.objects.get_or_create(code=plan["code"], defaults=fields)
        summary.plans += created
    for addon in catalog["addons"]:
        fields = {key: value for key, value in addon.items() if key != "code"}
        _, created = AddOn.objects.get_or_create(code=addon["code"], defaults=fields)
        summary.addons += created


def load_stores(summary: LoadSummary) -> None:
    for store in read_data("stores.json")["stores"]:
        fields = {key: value for key, value in store.items() if key != "code"}
        _, created = Store.objects.get_or_create(code=store["code"], defaults=fields)
        summary.stores += created


def load_knowledge_base(summary: LoadSummary) -> None:
    """The demo's help articles (kb.json, the `simcare kb import` shape): an article
    already there with the same text is left unchanged."""
    from simcare.care.services import import_articles

    with transaction.atomic():  # one commit for the whole file, not one per article
        report = import_articles(read_data("kb.json"), acting_user=None, source_name="demo kb.json")
    if report.rejected:
        reasons = "; ".join(f"article {row.number}: {row.reason}" for row in report.rejected)
        raise DemoDataError(f"the demo knowledge base did not import: {reasons}")
    summary.kb_articles += report.created


def load_care_team(*, lead: User, agent: User, summary: LoadSummary) -> None:
    """The care team that takes chats, tickets and the hotline: Toronto time, Ontario
    holidays, 09:00-21:00 on weekdays and 10:00-18:00 at weekends (the hotline's hours),
    the admin as team lead (SLA breaches go there), the demo agent speaking all three
    languages. The agent starts unavailable and switches to available in the console."""
    from simcare.care.models import AgentProfile, OpeningHours, Team

    team, created = Team.objects.get_or_create(
        name="Front line",
        defaults={
            "time_zone": "America/Toronto",
            "province": "ON",
            "is_default": not Team.objects.filter(is_default=True).exists(),
            "lead": lead,
        },
    )
    if created:
        summary.teams += 1
        for weekday in range(7):
            opens, closes = (9, 21) if weekday < 5 else (10, 18)
            OpeningHours.objects.create(
                team=team,
                weekday=weekday,
                opens_at=dt.time(opens, 0),
                closes_at=dt.time(closes, 0),
            )
    AgentProfile.objects.get_or_create(
        user=agent,
        defaults={"team": team, "languages": ["zh-hans", "en", "fr"], "is_available": False},
    )


# --- people ----------------------------------------------------------------------------


def _ensure_password(user: User, password: str) -> None:
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])


def _ensure_totp_device(user: User, secret: str) -> None:
    key = credentials.totp_key_hex(secret)
    device = TOTPDevice.objects.filter(user=user, name=TOTP_DEVICE_NAME).first()
    if device is None:
        TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, key=key, confirmed=True)
    elif device.key != key or not device.confirmed:
        device.key, device.confirmed = key, True
        device.save(update_fields=["key", "confirmed"])


@transaction.atomic
def ensure_staff(
    role: Role, profile: dict[str, Any], login: credentials.StaffLogin, summary: LoadSummary
) -> User:
    user = User.objects.filter(username=login["username"]).first()
    if user is None:
        user = create_staff(
            username=login["username"],
            password=login["password"],
            role=role,
            email=profile["email"],
            language=profile["language"],
        )
        user.first_name, user.last_name = profile["first_name"], profile["last_name"]
        user.save(update_fields=["first_name", "last_name"])
        summary.users += 1
    else:
        _ensure_password(user, login["password"])
    _ensure_totp_device(user, login["totp_secret"])
    return user


@transaction.atomic
def ensure_reseller(profile: dict[str, Any], summary: LoadSummary) -> User:
    """A reseller's user in the "reseller" group; its API keys come with the reseller API."""
    user = User.objects.filter(username=profile["username"]).first()
    if user is None:
        user = User(
            username=profile["username"], email=profile["email"], first_name=profile["name"]
        )
        user.set_unusable_password()
        user.save()
        user.groups.add(Group.objects.get_or_create(name=Role.RESELLER)[0])
        record_audit("reseller.created", actor=None, target=user, name=profile["name"])
        summary.users += 1
    return user


DEMO_FLOAT_CENTS = 100_000
DEMO_WHOLESALE_PERCENT = 85  # of the retail price


def ensure_partner(
    profile: dict[str, Any], user: User, previous: dict[str, Any] | None, summary: LoadSummary
) -> str:
    """The reseller of the demo user, with wholesale prices, a funded float and an API key;
    returns the key: the one demo-credentials.json held while it still works, else a new one."""
    reseller = Reseller.objects.filter(slug=profile["slug"]).first()
    if reseller is None:
        reseller = partner_services.create_reseller(
            name=profile["name"], slug=profile["slug"], acting_user=None, user=user
        )
        for plan in Plan.objects.filter(is_active=True):
            WholesalePrice.objects.get_or_create(
                reseller=reseller,
                plan=plan,
                defaults={"price_cents": plan.price_cents * DEMO_WHOLESALE_PERCENT // 100},
            )
        partner_services.top_up_float(
            reseller,
            amount_cents=DEMO_FLOAT_CENTS,
            source="clearing:bank",
            reference="demo opening float",
            idempotency_key="demo-opening-float",
            acting_user=None,
        )
        summary.resellers += 1
    key = credentials.previous_secret(previous, "reseller", "api_key")
    if key is not None:
        row = partner_services.key_for_token(key)
        if row is not None and row.reseller_id == reseller.pk:
            return key
    _row, key = partner_services.issue_api_key(reseller, label="demo", acting_user=None)
    return key


# --- stock -------------------------------------------------------------------------------


def _check(report: ImportReport, what: str) -> None:
    if report.rejected:
        reasons = "; ".join(f"row {row.row_number}: {row.reason}" for row in report.rejected)
        raise DemoDataError(f"the demo {what} did not import: {reasons}")


def load_stock(admin: User, summary: LoadSummary) -> None:
    numbers = inventory.all_numbers()
    known = set(Number.objects.filter(msisdn__in=numbers).values_list("msisdn", flat=True))
    missing_numbers = [number for number in numbers if number not in known]
    if missing_numbers:
        report = import_numbers(
            io.StringIO(inventory.numbers_csv(missing_numbers)),
            acting_user=admin,
            source_name="demo numbers",
        )
        _check(report, "numbers")
        summary.numbers += report.applied

    warehouse = read_data("stores.json")["warehouse"]
    sims = inventory.physical_sims(list(CITY_STORES.values()), warehouse)
    esims = inventory.esim_iccids()
    known = set(
        SimCard.objects.filter(iccid__in=[sim.iccid for sim in sims] + esims).values_list(
            "iccid", flat=True
        )
    )
    missing_sims = [sim for sim in sims if sim.iccid not in known]
    if missing_sims:
        report = import_sims(
            io.StringIO(inventory.sims_csv(missing_sims)),
            acting_user=admin,
            source_name="demo SIM cards",
        )
        _check(report, "SIM cards")
        summary.sims += report.applied
    missing_esims = [iccid for iccid in esims if iccid not in known]
    if missing_esims:
        report = import_esims(
            io.StringIO(inventory.esims_csv(missing_esims)),
            acting_user=admin,
            source_name="demo eSIM profiles",
        )
        _check(report, "eSIM profiles")
        summary.esims += report.applied


# --- subscribers and their lines ---------------------------------------------------------


def activation_time(
    state: str, days: int, validity_days: int, now: dt.datetime, config: lifecycle.LifecycleConfig
) -> dt.datetime:
    """When to activate a line so that, at `now`, the lifecycle has it in `state`.

    active: `days` left in the period; grace: `days` since the period ended;
    suspended: `days` since grace ended; recycled: `days` since the number was released.
    """
    day = dt.timedelta(days=1)
    period_end = {
        LineState.ACTIVE: now + days * day,
        LineState.GRACE: now - days * day,
        LineState.SUSPENDED: now - config.grace - days * day,
        LineState.RECYCLED: now - config.grace - config.suspension - days * day,
    }[LineState(state)]
    return period_end - validity_days * day


class _Stock:
    """Hands out the demo's numbers and SIMs for the demo's lines, city by city."""

    def __init__(self) -> None:
        cities = inventory.numbers_by_city()
        available = set(
            Number.objects.filter(
                msisdn__in=inventory.all_numbers(), status=NumberStatus.AVAILABLE
            ).values_list("msisdn", flat=True)
        )
        self.numbers = {
            city: [number for number in numbers if number in available]
            for city, numbers in cities.items()
        }
        self.taken_sims: set[int] = set()
        self.esim_iccids = inventory.esim_iccids()

    def number(self, city: str) -> str:
        if not self.numbers[city]:
            raise DemoDataError(f"no demo number left in {city}")
        return self.numbers[city].pop(0)

    def sim(self, kind: SimKind, city: str) -> SimCard:
        in_stock = SimCard.objects.filter(kind=kind, status=SimStatus.IN_STOCK).exclude(
            pk__in=self.taken_sims
        )
        if kind == SimKind.PHYSICAL:
            in_stock = in_stock.filter(store__code=CITY_STORES[city])
        else:
            in_stock = in_stock.filter(iccid__in=self.esim_iccids)
        card = in_stock.order_by("iccid").first()
        if card is None:
            raise DemoDataError(f"no demo {kind} left for {city}")
        self.taken_sims.add(card.pk)
        return card


@transaction.atomic
def ensure_subscriber(
    profile: dict[str, Any],
    password: str | None,
    *,
    staff: dict[str, User],
    stock: _Stock,
    now: dt.datetime,
    summary: LoadSummary,
) -> Subscriber:
    """The subscriber and, on the first run only, the lines of their story."""
    existing = Subscriber.objects.filter(user__username=profile["username"]).first()
    if existing is not None:
        if password is not None:
            _ensure_password(existing.user, password)
        return existing

    specs = profile["lines"]
    msisdns = [stock.number(spec["city"]) for spec in specs]
    live = [
        msisdn for msisdn, spec in zip(msisdns, specs, strict=True) if spec["state"] != "recycled"
    ]
    subscriber = create_subscriber(
        username=profile["username"],
        password=password,
        email=profile["email"],
        phone=live[0] if live else None,
        language=profile["language"],
        first_name=profile["first_name"],
        last_name=profile["last_name"],
        province=profile["province"],
    )
    summary.users += 1
    if profile.get("vip_reason"):
        subscriber.is_vip, subscriber.vip_reason = True, profile["vip_reason"]
        subscriber.save(update_fields=["is_vip", "vip_reason"])

    config = lifecycle.current_config()
    for msisdn, spec in zip(msisdns, specs, strict=True):
        plan = Plan.objects.get(code=spec["plan"])
        kind = SimKind(spec["kind"])
        if spec["sold_by"] == "online":
            seller = subscriber.user
        elif spec["city"] == "toronto":
            seller = staff["clerk"]
        else:
            seller = staff["admin"]
        line = activate_line(
            subscriber,
            plan,
            kind=kind,
            acting_user=seller,
            sim=stock.sim(kind, spec["city"]),
            msisdn=msisdn,
            now=activation_time(spec["state"], spec["days"], plan.validity_days, now, config),
        )
        if spec.get("auto_renew"):
            line.auto_renew = True
            line.save(update_fields=["auto_renew"])
        summary.lines += 1
    return subscriber


# --- vouchers ----------------------------------------------------------------------------


def ensure_vouchers(
    previous: dict[str, Any] | None, admin: User, now: dt.datetime, summary: LoadSummary
) -> list[credentials.Voucher]:
    """A small demo batch, generated once; the demo's credentials file is its PINs' only copy.

    A re-run lists the vouchers of the previous file that can still be redeemed (their
    PIN checked against the stored hash). Without the previous file the PINs are
    unknown, and none are listed: an admin can generate a new batch in the back office.
    """
    batch = VoucherBatch.objects.filter(name=DEMO_BATCH_NAME).order_by("pk").first()
    if batch is None:
        batch, issued = voucher_services.generate_batch(
            name=DEMO_BATCH_NAME,
            value_cents=DEMO_VOUCHER_CENTS,
            count=DEMO_VOUCHER_COUNT,
            expires_at=now + dt.timedelta(days=365),
            acting_user=admin,
            now=now,
        )
        summary.vouchers += len(issued)
        return [
            {"serial": serial, "pin": pin, "value_cents": batch.value_cents}
            for serial, pin in issued
        ]
    listed = (previous or {}).get("vouchers")
    if not isinstance(listed, list):
        return []
    key = voucher_services.current_voucher_key()
    redeemable = {
        serial: (pin_hash, value_cents)
        for serial, pin_hash, value_cents in Voucher.objects.filter(
            batch=batch, status=VoucherStatus.ACTIVE, expires_at__gt=now
        ).values_list("serial", "pin_hash", "value_cents")
    }
    kept: list[credentials.Voucher] = []
    for entry in listed:
        if not isinstance(entry, dict):
            continue
        serial, pin = entry.get("serial"), entry.get("pin")
        if not isinstance(serial, str) or not isinstance(pin, str) or serial not in redeemable:
            continue
        pin_hash, value_cents = redeemable[serial]
        if pins.hash_pin(pin, key=key) == pin_hash:
            kept.append({"serial": serial, "pin": pin, "value_cents": value_cents})
    return kept


# --- the whole demo ----------------------------------------------------------------------


def _staff_login(
    previous: dict[str, Any] | None, role: str, username: str
) -> credentials.StaffLogin:
    return {
        "username": username,
        "password": credentials.previous_secret(previous, role, "password")
        or credentials.new_password(),
        "totp_secret": credentials.previous_secret(previous, role, "totp_secret")
        or credentials.new_totp_secret(),
    }


def run_jobs_after_loading(summary: LoadSummary) -> None:
    discover()
    for name in JOBS_AFTER_LOADING:
        run_job(name)
        summary.jobs.append(name)


def load_demo(*, data_dir: Path, base_url: str) -> tuple[credentials.DemoCredentials, LoadSummary]:
    """Load what is missing, write demo-credentials.json when it changed, return both."""
    path = credentials.path_in(data_dir)
    previous = credentials.read(path)
    people = read_data("people.json")
    summary = LoadSummary()
    now = timezone.now()

    load_catalog(summary)
    load_stores(summary)
    load_knowledge_base(summary)

    logins = {
        role: _staff_login(previous, role, people["staff"][role]["username"])
        for role in credentials.STAFF_ROLES
    }
    staff = {
        role: ensure_staff(Role(role), people["staff"][role], logins[role], summary)
        for role in credentials.STAFF_ROLES
    }
    load_care_team(lead=staff["admin"], agent=staff["agent"], summary=summary)
    clerk_store = Store.objects.get(code=people["staff"]["clerk"]["store"])
    if not clerk_store.clerks.filter(pk=staff["clerk"].pk).exists():
        clerk_store.clerks.add(staff["clerk"])
    reseller = people["reseller"]
    reseller_user = ensure_reseller(reseller, summary)
    reseller_key = ensure_partner(reseller, reseller_user, previous, summary)

    load_stock(staff["admin"], summary)

    stock = _Stock()
    demo_login: Subscriber | None = None
    subscriber_password = (
        credentials.previous_secret(previous, "subscriber", "password")
        or credentials.new_password()
    )
    for profile in people["subscribers"]:
        signs_in = bool(profile.get("signs_in"))
        subscriber = ensure_subscriber(
            profile,
            subscriber_password if signs_in else None,
            staff=staff,
            stock=stock,
            now=now,
            summary=summary,
        )
        if signs_in:
            demo_login = subscriber
    if demo_login is None:
        raise DemoDataError("people.json names no subscriber who signs in")
    if summary.lines:
        run_jobs_after_loading(summary)
    demo_vouchers = ensure_vouchers(previous, staff["admin"], now, summary)

    msisdns = list(
        demo_login.lines.exclude(state=LineState.RECYCLED)
        .order_by("activated_at", "id")
        .values_list("msisdn", flat=True)
    )
    result: credentials.DemoCredentials = {
        "base_url": base_url,
        "admin": logins["admin"],
        "agent": logins["agent"],
        "clerk": logins["clerk"],
        "subscriber": {
            "username": demo_login.user.username,
            "password": subscriber_password,
            "msisdns": msisdns,
        },
        "reseller": {"name": reseller["name"], "api_key": reseller_key},
        "vouchers": demo_vouchers,
    }
    if previous != result:
        credentials.write(path, result)
    return result, summary
