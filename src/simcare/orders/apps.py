from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "simcare.orders"
    label = "orders"
    verbose_name = _("Orders and payments")

    def ready(self) -> None:
        from simcare.orders import notifications  # noqa: F401  (registers the templates)
