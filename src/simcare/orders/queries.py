"""Reads on orders and receipts, with the access check built in.

A subscriber sees only their own orders; agents and admins see every order; a
clerk sees the orders of their own store. Anyone else sees none. An order
someone may not see is reported as not found (Order.DoesNotExist, a 404 at the
edge), never as forbidden.
"""

from __future__ import annotations

from django.db.models import QuerySet

from simcare.accounts.models import Role, Subscriber, User
from simcare.orders.models import Order


def orders_for(user: User) -> QuerySet[Order]:
    """The orders `user` may see, newest first, with what a list shows loaded."""
    orders = Order.objects.select_related("plan", "addon", "line", "subscriber__user").order_by(
        "-created_at", "-id"
    )
    if not user.is_authenticated or not user.is_active:
        return orders.none()
    roles = user.roles
    if user.is_staff and roles & {str(Role.ADMIN), str(Role.AGENT)}:
        return orders
    if user.is_staff and str(Role.CLERK) in roles:
        return orders.filter(store__clerks=user)
    try:
        subscriber = user.subscriber
    except Subscriber.DoesNotExist:
        return orders.none()
    return orders.filter(subscriber=subscriber)


def order_for(user: User, order_id: int) -> Order:
    """The order `user` may see; raises Order.DoesNotExist when absent or not theirs."""
    return orders_for(user).get(pk=order_id)


def own_order_for(user: User, order_id: int) -> Order:
    """The order if it is `user`'s own purchase (payment return pages): staff get none either.

    Raises Order.DoesNotExist when absent or not theirs.
    """
    return orders_for(user).filter(subscriber__user=user).get(pk=order_id)
