"""The usage app's notification templates (files under usage/templates/notify/<name>/)."""

from __future__ import annotations

from simcare.notify import rendering

BUCKET_80 = "usage.bucket_80"
BUCKET_100 = "usage.bucket_100"
BARRED = "usage.barred"


def register_templates() -> None:
    rendering.register(BUCKET_80, description="80% of an allowance (plan or add-on) is used.")
    rendering.register(BUCKET_100, description="An allowance (plan or add-on) is used up.")
    rendering.register(
        BARRED,
        description=(
            "The wallet could not pay for usage beyond the allowances: the unpaid part is "
            "owed and chargeable usage is barred until a top-up."
        ),
    )
