from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CareConfig(AppConfig):
    name = "simcare.care"
    label = "care"
    verbose_name = _("Customer care")

    def ready(self) -> None:
        from simcare.care import notifications  # noqa: F401  (registers the chat's templates)
