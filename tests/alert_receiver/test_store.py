"""The group stores: the same recording rules in SQLite and PostgreSQL; in PostgreSQL, what lets
several replicas share one (exclusive claims, leases, pacing and pause shared)."""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psycopg
import pytest

from thoth_monitoring.alert_receiver.pg_store import PostgresGroupStore
from thoth_monitoring.alert_receiver.store import GroupStore, Store, StoreUnavailable

MakeStore = Callable[..., Store]


@pytest.fixture
async def make_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[..., Store]]:
    """Factory of opened stores on one shared state (``pg``) or one file (``sqlite``)."""
    stores: list[Store] = []
    url = request.getfixturevalue("make_database")() if request.param == "pg" else ""

    def make(replica: str = "r0", lease: float = 300.0) -> Store:
        if request.param == "pg":
            stores.append(PostgresGroupStore(url, replica, timeout=5, lease=lease))
        else:
            stores.append(GroupStore(tmp_path / "state.sqlite3", timeout=5))
        return stores[-1]

    yield make
    for store in stores:
        await store.close()


both = pytest.mark.parametrize("make_store", ["sqlite", "pg"], indirect=True)
pg = pytest.mark.parametrize("make_store", ["pg"], indirect=True)


async def opened(make_store: MakeStore, **options: float | str) -> Store:
    store = make_store(**options)
    await store.open(time.time())
    return store


@both
async def test_newest_notification_wins_and_older_ones_are_stale(make_store: MakeStore) -> None:
    store = await opened(make_store)
    now = time.time()
    assert (await store.record("g", "first", 10.0, now, 10))[0] == "queued"
    assert (await store.record("g", "older", 5.0, now, 10))[0] == "stale"
    assert (await store.record("g", "newer", 20.0, now, 10))[0] == "queued"
    group = await store.next_due(now)
    assert group is not None and (group.notification, group.version) == ("newer", 2)


@both
async def test_a_full_queue_refuses_new_groups_but_updates_queued_ones(
    make_store: MakeStore,
) -> None:
    store = await opened(make_store)
    now = time.time()
    assert (await store.record("a", "n", 1.0, now, 1))[0] == "queued"
    assert (await store.record("b", "n", 1.0, now, 1))[0] == "queue_full"
    outcome, backlog = await store.record("a", "n2", 2.0, now, 1)
    assert (outcome, backlog.size) == ("queued", 1)


@both
async def test_done_keeps_a_group_pending_when_a_newer_notification_came_meanwhile(
    make_store: MakeStore,
) -> None:
    store = await opened(make_store)
    now = time.time()
    await store.record("g", "first", 1.0, now, 10)
    group = await store.next_due(now)
    assert group is not None
    await store.record("g", "second", 2.0, now, 10)  # while the worker drives "first"
    assert (await store.done(group)).size == 1
    again = await store.next_due(time.time())
    assert again is not None and again.notification == "second"
    assert (await store.done(again)).size == 0


@both
async def test_a_failed_attempt_backs_off_and_counts(make_store: MakeStore) -> None:
    store = await opened(make_store)
    now = time.time()
    await store.record("g", "n", 1.0, now, 10)
    group = await store.next_due(now)
    assert group is not None
    await store.retry_later(group, now + 60)
    assert await store.next_due(now + 1) is None
    later = await store.next_due(now + 61)
    assert later is not None and later.attempts == 1


@pg
async def test_two_replicas_claiming_at_once_never_get_the_same_group(
    make_store: MakeStore,
) -> None:
    first, second = await opened(make_store, replica="a"), await opened(make_store, replica="b")
    now = time.time()
    await first.record("only", "n", 1.0, now, 10)
    claims = await asyncio.gather(*(s.next_due(now) for s in (first, second) for _ in range(3)))
    assert [c.key for c in claims if c is not None] == ["only"]
    await first.record("other", "n", 1.0, now, 10)
    pair = await asyncio.gather(first.next_due(now), second.next_due(now))
    assert sorted(str(c and c.key) for c in pair) == ["None", "other"]


@pg
async def test_an_expired_lease_is_taken_over_and_the_late_worker_changes_nothing(
    make_store: MakeStore,
) -> None:
    dead, alive = (
        await opened(make_store, replica="a", lease=1.0),
        await opened(make_store, replica="b", lease=1.0),
    )
    now = time.time()
    await dead.record("g", "n", 1.0, now, 10)
    lost = await dead.next_due(now)
    assert lost is not None and not lost.taken_over
    assert await alive.next_due(time.time()) is None  # the lease holds
    assert await alive.next_due(time.time() + 600) is None  # from a clock 10 min ahead too
    await asyncio.sleep(1.1)
    taken = await alive.next_due(time.time())
    assert taken is not None and taken.taken_over
    assert (await dead.done(lost)).size == 1  # its claim is gone: the group stays with b
    await alive.bind(taken, "o/r", 7)
    assert (await alive.done(taken)).size == 0
    await alive.record("g", "n2", 2.0, time.time(), 10)
    bound = await dead.next_due(time.time())
    assert bound is not None and bound.issue == ("o/r", 7) and not bound.taken_over


@pg
async def test_pause_and_write_slots_hold_across_replicas(make_store: MakeStore) -> None:
    first, second = await opened(make_store, replica="a"), await opened(make_store, replica="b")
    until = time.time() + 30
    await first.pause(until)
    assert await second.paused_until() == pytest.approx(until)
    waits = [await store.write_slot(10.0) for store in (first, second, first, second)]
    assert waits[0] < 0.5
    for earlier, later in itertools.pairwise(waits):
        assert later - earlier == pytest.approx(10.0, abs=0.5)  # latency is all the slack


async def test_an_unreachable_database_is_store_unavailable() -> None:
    store = PostgresGroupStore("postgresql://nobody@127.0.0.1:1/none", "r", timeout=1)
    with pytest.raises(StoreUnavailable, match="thoth_alert_receiver"):
        await store.open(time.time())


@pg
async def test_an_older_notification_racing_a_newer_one_in_never_wins(
    make_store: MakeStore,
) -> None:
    stores = [await opened(make_store, replica=f"r{n}") for n in range(4)]
    now = time.time()
    for round_ in range(5):  # new groups each time: both webhooks insert at once
        key = f"g{round_}"
        await asyncio.gather(*(
            store.record(key, f"stamp {stamp}", stamp, now, 100)
            for store, stamp in zip(stores, (5.0, 10.0, 1.0, 7.0), strict=True)
        ))  # fmt: skip
    seen = set()
    while (group := await stores[0].next_due(now)) is not None:
        seen.add((group.key, group.notification))
    assert seen == {(f"g{n}", "stamp 10.0") for n in range(5)}


@pg
async def test_a_blocked_database_is_unavailable_within_the_deadline_then_usable_again(
    make_store: MakeStore,
) -> None:
    store = await opened(make_store)
    assert isinstance(store, PostgresGroupStore)
    store.timeout = 1.0
    await store.close()  # the next connection gets the shorter statement_timeout
    async with await psycopg.AsyncConnection.connect(store.url) as blocker:
        await blocker.execute("LOCK TABLE thoth_alert_receiver.github IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.pause(time.time() + 60)
        assert time.monotonic() - started < 2.0
    assert await store.paused_until() == 0.0  # the failed write did not happen; reconnected
