"""store/dynamodb/watch.py: during a move a due index's earliest time is remembered and kept exact from the
writes the store sends; only a write that moves or removes a shard's first item, or one that fails,
costs a read again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pynamodb.exceptions import PutError

from chalicelib.store.dynamodb import watch
from chalicelib.store.dynamodb.adapter import DynamoUnitOfWork
from chalicelib.store.dynamodb.due import earliest_due
from chalicelib.store.dynamodb.models import AppModel, NotificationModel
from tests.integration.requests import count_requests

T0 = datetime(2026, 3, 1, tzinfo=UTC)
pytestmark = pytest.mark.storage  # the hooks see DynamoDB Local's answers too


def app(sid: int, warn: datetime | None) -> AppModel:
    a = AppModel(sid, account_id="acme", name=f"a{sid}", region="us", edition="standard", status="enabled",
                 created_at=T0, expires_at=T0 + timedelta(days=30), due_shard=str(sid % 4), warn_due_at=warn)
    a.save()
    return a


def earliest() -> datetime | None:
    return earliest_due(AppModel.warn_due, "warn_due_at")


def test_writes_keep_the_remembered_earliest_exact(store):
    first = app(1, T0 + timedelta(days=5))
    app(2, T0 + timedelta(days=9))
    with watch.watching(watch.store_clients()):
        with count_requests() as asked:
            assert earliest() == T0 + timedelta(days=5)
        assert asked.calls == {"Query": 4}
        with count_requests() as c:
            app(3, T0 + timedelta(days=2))  # a new, earlier due item: from the write itself
            assert earliest() == T0 + timedelta(days=2)
        assert c.calls == {"PutItem": 1}
        with count_requests() as c:
            first.warn_due_at = T0 + timedelta(days=20)  # shard 1's first item moves later
            first.save()
            AppModel(3).delete()
            assert earliest() == T0 + timedelta(days=9)
        assert c.calls == {"PutItem": 1, "DeleteItem": 1, "Query": 1}  # only shard 1 asked again
        with count_requests() as c:
            with pytest.raises(PutError):  # refused: the watch cannot know what it changed
                AppModel(2, account_id="acme", name="x", region="us", edition="standard", status="enabled",
                         created_at=T0, expires_at=T0, due_shard="2").save(condition=AppModel.sdkappid.does_not_exist())
            assert earliest() == T0 + timedelta(days=9)
        assert c.calls["Query"] == 4
    with count_requests() as c:  # outside a watch nothing is remembered
        assert earliest() == T0 + timedelta(days=9)
        assert earliest() == T0 + timedelta(days=9)
    assert c.calls == {"Query": 8}


def note(nid: str, due: datetime) -> NotificationModel:
    n = NotificationModel("acme", nid, at=T0, kind="bill", channel="email", to="a@x.test", subject="s", body="b",
                          status="pending", due_shard="0", send_due_at=due)
    n.save()
    return n


def test_an_update_is_known_from_what_the_unit_of_work_declares_not_from_its_expression(store):
    """The dispatcher's lease (an UpdateItem of the unit of work) tells the watch the due instant it
    set: only the shard whose first item moved is asked again. An update nobody declared counts as
    changing every attribute it names: every shard of that index is asked again."""
    first = note("n1", T0 + timedelta(days=1))
    note("n2", T0 + timedelta(days=3))

    def sending() -> datetime | None:
        return earliest_due(NotificationModel.send_due, "send_due_at")

    with watch.watching(watch.store_clients()):
        assert sending() == T0 + timedelta(days=1)
        with count_requests() as c:
            with DynamoUnitOfWork() as u:
                u.notifications.lease(first, T0 + timedelta(days=2))
            assert sending() == T0 + timedelta(days=2)
        assert c.calls == {"UpdateItem": 1, "Query": 1}
        with count_requests() as c:
            first.update(actions=[NotificationModel.send_due_at.set(T0 + timedelta(days=4))])  # undeclared
            assert sending() == T0 + timedelta(days=3)
        assert c.calls == {"UpdateItem": 1, "Query": 4}
