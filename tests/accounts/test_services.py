from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from simcare.accounts import services
from simcare.accounts.models import Subscriber, User

pytestmark = pytest.mark.django_db


def test_subscribers_without_email_or_phone_can_coexist() -> None:
    services.create_subscriber(
        username="first", password="a long password 1", email=None, phone=None
    )
    services.create_subscriber(
        username="second", password="a long password 2", email=None, phone=None
    )

    assert Subscriber.objects.count() == 2


def test_a_taken_email_or_phone_is_refused_in_words_and_nothing_is_created() -> None:
    services.create_subscriber(
        username="lin", password="a long password 1", email="Lin@Example.com", phone="+14169791237"
    )

    with pytest.raises(ValidationError) as refused:
        services.create_subscriber(
            username="other",
            password="a long password 2",
            email="lin@example.com",
            phone="+14169791237",
        )

    assert set(refused.value.message_dict) == {"email", "phone"}
    assert User.objects.filter(username="other").count() == 0
