"""The usage notifications render in the subscriber's language from what the import queued."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines.models import Bucket, Line
from simcare.notify import rendering
from simcare.notify.models import Notification
from tests.usage.conftest import cdr_bytes, fund, run_import

pytestmark = pytest.mark.django_db
AT = "2026-12-01T10:00:00-05:00"


@pytest.fixture
def plan_with_small_allowances(make_plan: Callable[..., Plan]) -> Plan:
    return make_plan(data_mb=1, voice_minutes=5, sms_messages=5, overage_voice_cents_per_minute=5)


@pytest.mark.parametrize("language", ["en", "fr", "zh-hans"])
def test_threshold_and_barring_messages_render_in_each_language(
    make_line: Callable[..., Line],
    make_subscriber: Callable[..., Subscriber],
    plan_with_small_allowances: Plan,
    language: str,
) -> None:
    subscriber = make_subscriber(language=language)
    line = make_line(subscriber, plan_with_small_allowances)
    fund(subscriber, 2)
    Bucket.objects.filter(line=line, kind="data").update(used=800)
    run_import(
        cdr_bytes(
            f"d1,{line.msisdn},data,{AT},10240,CA,",  # 800 → 810 of 1024 KB: 79%
            f"d2,{line.msisdn},data,{AT},20480,CA,",  # 830: 81% → the 80% message
            f"v1,{line.msisdn},voice,{AT},600,CA,out",  # 10 min: 5 from the bucket, 25¢ → barred
        )
    )
    templates = set(Notification.objects.filter(line=line).values_list("template", flat=True))
    assert templates >= {"usage.bucket_80", "usage.bucket_100", "usage.barred"}
    expected = {
        "en": ("80% of your mobile data", "all of your calling minutes", "$0.23"),
        "fr": ("80 % de vos données mobiles", "toutes vos minutes d'appel", "0,23"),
        "zh-hans": ("80% 的移动数据", "通话分钟数", "0.23"),
    }[language]
    texts = {}
    for template in ("usage.bucket_80", "usage.bucket_100", "usage.barred"):
        notice = Notification.objects.get(line=line, template=template, channel="email")
        message = rendering.render(notice)
        sms = rendering.render(
            Notification.objects.get(line=line, template=template, channel="sms")
        )
        assert message.language == language
        assert line.msisdn[-4:] in message.subject.replace(" ", "").replace("-", "")
        texts[template] = message.subject + message.body + sms.sms
    assert expected[0] in texts["usage.bucket_80"]
    assert expected[1] in texts["usage.bucket_100"]
    assert expected[2] in texts["usage.barred"]
