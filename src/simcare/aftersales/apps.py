from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AftersalesConfig(AppConfig):
    name = "simcare.aftersales"
    label = "aftersales"
    verbose_name = _("Returns and reviews")

    def ready(self) -> None:
        from simcare.aftersales import notifications  # noqa: F401  (registers the templates)
