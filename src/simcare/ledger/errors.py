"""Refusals of ledger postings, each with a stable code and a translated message."""

from __future__ import annotations

from django.utils.translation import gettext as _

from simcare.kit.problems import DomainError


class LedgerError(DomainError):
    """Base of the ledger app's refusals."""

    status = 409


class EmptyTransaction(LedgerError):
    """Fewer than two entries, or all of them on one account: nothing would move."""

    code = "empty_transaction"
    status = 422

    def default_message(self) -> str:
        return _("A ledger transaction needs at least two entries on two different accounts.")


class UnbalancedTransaction(LedgerError):
    code = "unbalanced_transaction"
    status = 422

    def default_message(self) -> str:
        return _("The entries of a ledger transaction must add up to zero.")


class InvalidEntry(LedgerError):
    """An entry of zero cents, on an unsaved account, or in another currency."""

    code = "invalid_entry"
    status = 422

    def default_message(self) -> str:
        return _("A ledger entry must move a non-zero amount on a saved account in CAD.")


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"

    def default_message(self) -> str:
        return _("The balance is too low for this payment.")


class IdempotencyKeyConflict(LedgerError):
    """The key was already used for a transaction with other entries, kind or reference."""

    code = "idempotency_key_conflict"

    def default_message(self) -> str:
        return _("This request key was already used for a different transaction.")


class AlreadyReversed(LedgerError):
    code = "already_reversed"

    def default_message(self) -> str:
        return _("This ledger transaction has already been reversed.")


class ReversalNotReversible(LedgerError):
    """A reversal is final: correct it with a new transaction, not a reversal of a reversal."""

    code = "reversal_not_reversible"

    def default_message(self) -> str:
        return _("A reversal cannot itself be reversed; post a new transaction instead.")


class UnknownAccount(LedgerError):
    code = "unknown_ledger_account"
    status = 422

    def default_message(self) -> str:
        return _("There is no such ledger account.")


class AppendOnlyViolation(Exception):
    """Code tried to change or delete a ledger row. A programming error, never a refusal.

    Ledger entries and transactions are written once; a correction is a new,
    reversing transaction (20-money.md).
    """

    code = "ledger_append_only"
