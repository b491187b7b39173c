from __future__ import annotations

from django.db.models import QuerySet

from simcare.catalog.models import AddOn, Plan


def plans_on_sale() -> QuerySet[Plan]:
    return Plan.objects.filter(is_active=True).order_by("sort_order", "code")


def addons_on_sale() -> QuerySet[AddOn]:
    return AddOn.objects.filter(is_active=True).order_by("sort_order", "code")


def plan_by_code(code: str) -> Plan | None:
    """The plan with this code, on sale or not (a line may renew on a retired plan)."""
    return Plan.objects.filter(code=code).first()
