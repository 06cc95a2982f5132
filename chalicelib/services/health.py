"""Whether the service can work: the store answers a read (GET /v1/health)."""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import PynamoDBException

from chalicelib.services.context import Ctx

log = logging.getLogger("imbill.health")
PROBE = "~health"  # no account has this id (account ids are letters, digits, '_', '.' and '-'): one cheap miss


def store_answers(ctx: Ctx) -> bool:
    """One eventually consistent read of an account that cannot exist; False when the store fails it."""
    try:
        with ctx.uow() as uow:
            uow.accounts.get(PROBE, consistent=False)
    except (PynamoDBException, BotoCoreError) as err:
        log.warning("health: the store does not answer: %s", err)
        return False
    return True
