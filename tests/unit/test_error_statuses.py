"""Domain errors carry only the contract's code; the API maps each class to its HTTP status."""

from __future__ import annotations

import pytest

from chalicelib.api.http import STATUS, status_of
from chalicelib.domain import errors
from chalicelib.integrations.webhook_http import Refused
from chalicelib.store.port import Contention


def test_every_domain_error_has_one_status_in_the_api_and_none_of_its_own():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.BillingError)]
    assert set(classes) == set(STATUS)
    assert all("status" not in vars(c) for c in classes)
    assert {c.code: STATUS[c] for c in classes if c is not errors.BillingError} == {
        "invalid_request": 400, "unauthorized": 401, "insufficient_balance": 402, "forbidden": 403,
        "not_found": 404, "conflict": 409, "gone": 410, "busy": 503}


@pytest.mark.parametrize(("err", "status"), [
    (Contention("contended"), 503), (Refused("no"), 400), (errors.Conflict("x", code="period_closed"), 409),
])
def test_a_subclass_answers_its_nearest_listed_class_status(err, status):
    assert status_of(err) == status
