"""The notification port: email through SES, SMS through SNS, or local (recorded only).

Every notification is first recorded in the outbox table (what the console reads); sending
happens after the record is committed, so a rerun that finds the record sends nothing again."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from chalicelib import aws
from chalicelib.config import Settings

log = logging.getLogger("imbill.notify")


class Notifier(Protocol):
    """`records_only` (optional attribute, default False): sending cannot fail and the outbox record
    is the delivery, so a notification is written `sent` in the deciding commit (no later mark)."""

    def email(self, to: str, subject: str, body: str) -> None: ...

    def sms(self, to: str, body: str) -> None: ...


class AwsNotifier:
    def __init__(self, sender: str, region: str, sms_sender_id: str | None = None) -> None:
        self.sender = sender
        self.sms_sender_id = sms_sender_id  # shown as the SMS's sender where the country allows one
        self.ses: Any = aws.client("ses", region)
        self.sns: Any = aws.client("sns", region)

    def email(self, to: str, subject: str, body: str) -> None:
        self.ses.send_email(
            Source=self.sender,
            Destination={"ToAddresses": [to]},
            Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": body}}},
        )

    def sms(self, to: str, body: str) -> None:
        attributes = {} if not self.sms_sender_id else {
            "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": self.sms_sender_id}}
        self.sns.publish(PhoneNumber=to, Message=body, MessageAttributes=attributes)


class LocalNotifier:
    """For `imbill serve`: the outbox is the record; sending is a log line."""

    records_only = True

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def email(self, to: str, subject: str, body: str) -> None:
        self.sent.append(("email", to, subject))
        log.info("email to %s: %s", to, subject)

    def sms(self, to: str, body: str) -> None:
        self.sent.append(("sms", to, body))
        log.info("sms to %s: %s", to, body)


def for_settings(s: Settings) -> Notifier:
    """The notifier the settings ask for (chalicelib/bootstrap.py makes it once per composition)."""
    if s.notify == "aws":
        return AwsNotifier(s.email_from, s.region, s.sms_sender_id)
    return LocalNotifier()
