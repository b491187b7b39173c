from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsageConfig(AppConfig):
    name = "simcare.usage"
    label = "usage"
    verbose_name = _("Usage")

    def ready(self) -> None:
        from simcare.usage import notifications

        notifications.register_templates()
