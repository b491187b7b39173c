"""simcare: a self-hosted platform for prepaid SIM and eSIM providers."""

__version__ = "0.1.0"
