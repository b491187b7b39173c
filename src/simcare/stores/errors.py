"""Refusals of the clerk console's actions, each with a stable code and a translated message."""

from __future__ import annotations

from django.utils.translation import gettext as _

from simcare.kit.problems import DomainError


class StoreError(DomainError):
    """Base of the stores app's refusals."""

    status = 409


class ServiceNotOffered(StoreError):
    """The store does not offer this service (Store.services); details["service"] names it."""

    code = "store_service_not_offered"

    def default_message(self) -> str:
        return _("This store does not offer this service.")


class SimNotInStore(StoreError):
    """The physical SIM chosen is not on this store's shelf (sold, elsewhere, or faulty)."""

    code = "sim_not_in_store"

    def default_message(self) -> str:
        return _("This SIM card is not in stock at this store. Choose another one.")


class CustomerConflict(StoreError):
    """The new customer's email or phone already belongs to an account."""

    code = "customer_exists"

    def default_message(self) -> str:
        return _("An account with this email or mobile number already exists: find the customer.")
