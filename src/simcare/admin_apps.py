"""Kept apart from admin_site so loading the app registry imports no models."""

from django.contrib.admin.apps import AdminConfig


class SimcareAdminConfig(AdminConfig):
    default_site = "simcare.admin_site.SimcareAdminSite"
