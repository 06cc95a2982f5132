"""Due-time hints that stay exact without asking the store again (the test clock's cost model).

While a `Watch` is active (a clock move or a scheduler catch-up), every DynamoDB write the store's
clients send is observed once answered (botocore `provide-client-params` and `after-call` hooks:
Put, Update and Delete, alone, in transactions or in batches; a refused write makes every
remembered read of its table be asked again), and reads that only answer "when is this index next due" are
remembered until a write could change their answer. A put carries the item and a delete its key; what
an update changed is not read from its expression: the unit of work declares the effect of its own
updates (`updating`: the lease of a due item, store/dynamodb/adapter.py), and any other update counts
as changing every attribute it names.

- `earliest(index)` (a due index of the port) keeps, per shard, the item found first by a `Limit 1`
  Query; a write that gives an item a due time brings the answer forward without a request; a write
  that moves or removes a remembered first item makes only that shard be asked again.
- `cached(key, table, load, touches, fields)` keeps a small read (the push-billing index) until a
  write to the table touches one of the items read (in one of `fields`, when given: a write that
  changes nothing the read answers keeps it) or adds one that `touches` says belongs to it.
- `items(model, keys, load)` keeps items read by key (the accounts a move's bills read): a
  successful put of one replaces it by the item put (its whole new image), any other write of it
  drops it, and a refused write drops its table's.

Outside a watch (deployed: each scheduled run is its own invocation) nothing is remembered."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.store.port import DueIndex

Key = tuple[str, ...]
DDB_TIME = "%Y-%m-%dT%H:%M:%S.%f%z"  # UTCDateTimeAttribute's stored form
Declared = dict[tuple[str, str], dict[str, Any]]  # (table, key) -> attribute -> stored value, of an update


def _time(value: Any) -> datetime | None:
    if isinstance(value, dict) and "S" in value:
        try:
            return datetime.strptime(value["S"], DDB_TIME)
        except ValueError:
            return None
    return None


@dataclass
class _Written:
    """One observed write: the item's key, and its attributes after it (None: deleted, or an
    update whose result is not known attribute by attribute)."""

    table: str
    key: dict[str, Any]
    item: dict[str, Any] | None
    set_values: dict[str, Any] = field(default_factory=dict)  # update: attribute -> new value
    removed: tuple[str, ...] = ()  # update: attributes removed
    unknown: tuple[str, ...] = ()  # update: attributes changed in a way not followed (ADD, DELETE)
    deleted: bool = False

    def key_of(self, names: tuple[str, ...]) -> Key | None:
        source = self.item if self.item is not None else self.key
        if not all(n in source for n in names):
            return None
        return tuple(json.dumps(source[n], sort_keys=True) for n in names)

    def touches(self, attr: str) -> bool:
        return self.item is not None or self.deleted or attr in self.set_values or attr in self.removed \
            or attr in self.unknown

    def value(self, attr: str) -> tuple[bool, Any]:
        """(known, value) of `attr` after the write."""
        if self.item is not None:
            return True, self.item.get(attr)
        if attr in self.set_values:
            return True, self.set_values[attr]
        if attr in self.removed or self.deleted:
            return True, None
        return False, None


def _key_text(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


def _parse(operation: str, params: dict[str, Any], declared: Declared) -> list[_Written]:
    """The items a write request changed: a put's item, a delete's key, an update's declared effect
    (`declared`, taken: the unit of work said what it set) or else every attribute the update names."""
    out: list[_Written] = []

    def put(op: dict[str, Any], table: str | None = None) -> None:
        out.append(_Written(table or op["TableName"], {}, op["Item"]))

    def delete(op: dict[str, Any], table: str | None = None) -> None:
        out.append(_Written(table or op["TableName"], op["Key"], None, deleted=True))

    def update(op: dict[str, Any]) -> None:
        named = set(op.get("ExpressionAttributeNames", {}).values())
        set_values = declared.pop((op["TableName"], _key_text(op["Key"])), {})
        unknown = tuple(sorted(named - set(set_values)))  # undeclared changes, and the condition's names
        out.append(_Written(op["TableName"], op["Key"], None, set_values, (), unknown))

    if operation == "PutItem":
        put(params)
    elif operation == "DeleteItem":
        delete(params)
    elif operation == "UpdateItem":
        update(params)
    elif operation == "TransactWriteItems":
        for entry in params.get("TransactItems", []):
            if "Put" in entry:
                put(entry["Put"])
            elif "Delete" in entry:
                delete(entry["Delete"])
            elif "Update" in entry:
                update(entry["Update"])
    elif operation == "BatchWriteItem":
        for table, requests in params.get("RequestItems", {}).items():
            for r in requests:
                if "PutRequest" in r:
                    put(r["PutRequest"], table)
                elif "DeleteRequest" in r:
                    delete(r["DeleteRequest"], table)
    return out


@dataclass
class _Earliest:
    """The first item of each shard of one due index, as last read, and the due times written since."""

    shards: dict[str, tuple[Key, datetime] | None]  # shard -> (item key, due) read; None: empty
    stale: set[str] = field(default_factory=set)  # shards whose first item was moved or removed
    written: dict[Key, datetime] = field(default_factory=dict)  # item -> due time written since


class Watch:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._earliest: dict[tuple[str, str], tuple[DueIndex, _Earliest]] = {}
        self._cached: dict[str, tuple[str, set[Key], tuple[str, ...], Callable[[dict[str, Any]], bool], Any]] = {}
        self._fields: dict[str, tuple[tuple[str, ...], dict[Key, dict[str, Any]]]] = {}  # cached: fields watched
        self._items: dict[str, dict[Key, dict[str, Any]]] = {}  # table -> key -> raw item
        self._declared: Declared = {}  # the effects of updates about to be sent (`updating`)

    # ---------------------------------------------------------------- observing writes
    def observe(self, operation: str, params: dict[str, Any], succeeded: bool = True) -> None:
        """A write sent; one that failed (a condition, a conflict) may have changed nothing or
        anything: every remembered read of its tables is asked again."""
        with self._lock:
            writes = _parse(operation, params, self._declared)
            for w in writes:
                if succeeded:
                    self._apply(w)
                else:
                    self._forget_table(w.table)

    def _forget_table(self, table: str) -> None:
        for (t, _), (_, state) in self._earliest.items():
            if t == table:
                state.stale.update(state.shards)
        for name in [n for n, entry in self._cached.items() if entry[0] == table]:
            del self._cached[name]
        self._items.pop(table, None)

    def _apply(self, w: _Written) -> None:
        for (table, attr), (index, state) in self._earliest.items():
            if table != w.table or not w.touches(attr):
                continue
            key = w.key_of(_key_names(index.model))
            known, value = w.value(attr)
            due = _time(value) if known and value is not None else None
            if key is None or not known:
                if key is not None:
                    state.written.pop(key, None)  # its due instant is not known any more
                state.stale.update(state.shards)  # cannot tell which item or where: ask every shard again
                continue
            if due is not None:
                state.written[key] = due
            else:
                state.written.pop(key, None)
            for shard, first in state.shards.items():
                if first is not None and first[0] == key and (due is None or due > first[1]):
                    state.stale.add(shard)
        for name, (table, keys, key_names, touches, _) in list(self._cached.items()):
            if table != w.table:
                continue
            key = w.key_of(key_names)
            if key is None or (key in keys and self._changes(name, key, w)) \
                    or (key not in keys and (w.item is None or touches(w.item))):
                del self._cached[name]
        remembered = self._items.get(w.table)
        if remembered:
            names = next(iter(remembered.values()))["__key_names"]
            key = w.key_of(names)
            if key is not None and key in remembered:
                if w.item is not None:
                    remembered[key] = {**w.item, "__key_names": names}
                else:
                    del remembered[key]

    def _changes(self, name: str, key: Key, w: _Written) -> bool:
        """Whether a write of a cached item may change what the read answers (any write, unless
        the read named the fields it answers from)."""
        watched = self._fields.get(name)
        if watched is None:
            return True
        fields, raw = watched
        if w.item is None:
            return w.deleted or any(w.touches(f) for f in fields)
        before = raw.get(key, {})
        return any(w.item.get(f) != before.get(f) for f in fields)

    @contextmanager
    def updating(self, item: Any, values: dict[str, Any]) -> Iterator[None]:
        """Around an UpdateItem of `item` that sets `values` (attribute name -> value) and nothing else
        the watch reads: its observation knows the new values without reading the update's expression."""
        model = type(item)
        attrs = model.get_attributes()
        raw = item.serialize(null_check=False)
        key = _key_text({n: raw[n] for n in _key_names(model)})
        effect = {attrs[name].attr_name: {attrs[name].attr_type: attrs[name].serialize(value)}
                  for name, value in values.items()}
        with self._lock:
            self._declared[(model.Meta.table_name, key)] = effect
        try:
            yield
        finally:
            with self._lock:  # not sent (or not answered): the declaration goes with it
                self._declared.pop((model.Meta.table_name, key), None)

    # ---------------------------------------------------------------- remembered reads
    def forget(self) -> None:
        """Drop every remembered read: the next questions go to the store."""
        with self._lock:
            self._earliest.clear()
            self._cached.clear()
            self._items.clear()

    def earliest(self, index: DueIndex, shards: list[str]) -> datetime | None:
        """The smallest due instant of a due index (the port's DueIndex): per shard the first item as
        last read, and the due instants written since."""
        attr = index.attr
        table = index.model.Meta.table_name
        names = _key_names(index.model)
        query = getattr(index.model, index.name).query
        with self._lock:
            entry = self._earliest.get((table, attr))
            todo = shards if entry is None else sorted(entry[1].stale)
        found: dict[str, tuple[Key, datetime] | None] = {}
        for shard in todo:
            found[shard] = None
            for item in query(shard, limit=1):
                ser = item.serialize()
                found[shard] = (tuple(json.dumps(ser[n], sort_keys=True) for n in names), getattr(item, attr))
        with self._lock:
            if entry is None:
                entry = (index, _Earliest({}))
                self._earliest[(table, attr)] = entry
            state = entry[1]
            state.shards.update(found)
            state.stale.difference_update(found)
            dues = [first[1] for first in state.shards.values() if first is not None]
            dues += state.written.values()
        return min(dues) if dues else None

    def cached(self, name: str, table: str, key_names: tuple[str, ...], load: Callable[[], list[Any]],
               touches: Callable[[dict[str, Any]], bool], fields: tuple[str, ...] | None = None) -> list[Any]:
        with self._lock:
            hit = self._cached.get(name)
        if hit is not None:
            return list(hit[4])
        items = load()
        raw = {tuple(json.dumps(ser[n], sort_keys=True) for n in key_names): ser
               for ser in (item.serialize() for item in items)}
        with self._lock:
            self._cached[name] = (table, set(raw), key_names, touches, items)
            if fields is not None:
                self._fields[name] = (fields, raw)
            else:
                self._fields.pop(name, None)
        return list(items)

    def items(self, model: Any, keys: list[Any], load: Callable[[list[Any]], list[Any]]) -> list[Any]:
        """The items of `keys` (hash values, or (hash, range) tuples) of `model`, those not
        remembered loaded (`load(keys)`) and remembered; fresh model objects each time."""
        table, names = model.Meta.table_name, _key_names(model)

        def key_of(k: Any) -> Key:
            parts = k if isinstance(k, tuple) else (k,)
            return tuple(json.dumps(model(*parts).serialize(null_check=False)[n], sort_keys=True) for n in names)

        with self._lock:
            remembered = self._items.setdefault(table, {})
            missing = [k for k in keys if key_of(k) not in remembered]
        for item in load(missing) if missing else []:
            ser = item.serialize()
            with self._lock:
                self._items.setdefault(table, {})[tuple(json.dumps(ser[n], sort_keys=True) for n in names)] = {
                    **ser, "__key_names": names}
        with self._lock:
            remembered = self._items.get(table, {})
            raws = [remembered.get(key_of(k)) for k in keys]
        return [model.from_raw_data({n: v for n, v in raw.items() if n != "__key_names"}) for raw in raws if raw]


def _key_names(model: Any) -> tuple[str, ...]:
    """The stored names of a model's hash key and range key (if any)."""
    attrs = model.get_attributes().values()
    return tuple([a.attr_name for a in attrs if a.is_hash_key] + [a.attr_name for a in attrs if a.is_range_key])


# The watch of the clock move running in this context (the runner's, jobs/runner.run_between): the
# reads of that move ask it; another thread (an API request, the scheduler's beat) sees none.
_current: ContextVar[Watch | None] = ContextVar("imbill_watch", default=None)


def current() -> Watch | None:
    return _current.get()


@contextmanager
def watching(clients: list[Any]) -> Iterator[Watch]:
    """Observe the writes sent through `clients` (the store's botocore clients) until exit; the reads
    of this context answer from the watch meanwhile."""
    w = Watch()

    def sent(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["imbill-watch-params"] = params

    def answered(http_response: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get("imbill-watch-params")
        if params is not None:
            w.observe(model.name, params, succeeded=http_response.status_code == 200)

    for client in clients:
        client.meta.events.register("provide-client-params.dynamodb", sent, unique_id="imbill-due-watch")
        client.meta.events.register("after-call.dynamodb", answered, unique_id="imbill-due-watch-answered")
    token = _current.set(w)
    try:
        yield w
    finally:
        _current.reset(token)
        for client in clients:
            client.meta.events.unregister("provide-client-params.dynamodb", unique_id="imbill-due-watch")
            client.meta.events.unregister("after-call.dynamodb", unique_id="imbill-due-watch-answered")


@contextmanager
def requests_seen(callback: Callable[[str], None]) -> Iterator[None]:
    """Call `callback(operation)` before every DynamoDB request the store sends, until exit."""

    def hook(event_name: str, **_: Any) -> None:  # event_name: before-call.dynamodb.<Operation>
        callback(event_name.rsplit(".", 1)[-1])

    clients = store_clients()
    for client in clients:
        client.meta.events.register("before-call.dynamodb", hook, unique_id=f"imbill-requests-{id(callback)}")
    try:
        yield
    finally:
        for client in clients:
            client.meta.events.unregister("before-call.dynamodb", unique_id=f"imbill-requests-{id(callback)}")


def store_clients() -> list[Any]:
    """The botocore clients every model and the unit of work send their requests through."""
    from chalicelib.store.dynamodb import plumbing, tables

    out = {id(c): c for c in (m._get_connection().connection.client for m in tables.ALL_MODELS)}
    out[id(plumbing.connection().client)] = plumbing.connection().client
    return list(out.values())
