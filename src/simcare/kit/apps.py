from django.apps import AppConfig


class KitConfig(AppConfig):
    name = "simcare.kit"
    label = "kit"
