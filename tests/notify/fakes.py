"""SMS gateways that fail, standing in for a vendor that is down or refuses a number."""

from __future__ import annotations

from simcare.notify.sms import SmsBackend, SmsDeliveryError, SmsRejected


class UnreachableSmsGateway(SmsBackend):
    def send(self, to: str, body: str) -> str:
        raise SmsDeliveryError("gateway timed out")


class RefusingSmsGateway(SmsBackend):
    def send(self, to: str, body: str) -> str:
        raise SmsRejected("21211 invalid 'To' phone number")
