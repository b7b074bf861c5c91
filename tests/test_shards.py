"""Shards split a day's messages between workers: together they write exactly what one run writes."""

import pytest
from conftest import at

from duban import runs
from duban.config import Settings
from duban.shards import Shard, parse_shard

AS_OF = at("2020-10-09 09:00")


def messages(engine, shard=None) -> set[tuple[str, str]]:
    ctx = runs.context(engine, Settings(secret="s"), "mini-2020")
    chunks = runs.plan_notices(engine, ctx, AS_OF, ("remind", "escalate"), shard)
    return {(m.person_id, m.channel) for chunk in chunks for m in chunk.messages}


def test_hash_shards_partition_the_messages(mini_store):
    whole = messages(mini_store)
    parts = [messages(mini_store, parse_shard(f"{i}/3")) for i in range(3)]
    assert whole and set().union(*parts) == whole
    assert sum(len(p) for p in parts) == len(whole)


def contents(engine, shard=None) -> dict[tuple[str, str], tuple]:
    """Each message's items, roll-up lines (with their members and counts) and missed count."""
    ctx = runs.context(engine, Settings(secret="s"), "mini-2020")
    return {(m.person_id, m.channel): (
        [(i.occurrence_id, i.stage.name, i.why) for i in m.items],
        [(x.key, x.level, x.scope, x.why, [y.occurrence_id for y in x.members], x.counts) for x in m.lines], m.missed)
        for chunk in runs.plan_notices(engine, ctx, AS_OF, ("remind", "escalate"), shard) for m in chunk.messages}


def test_each_shard_decides_only_its_recipients_and_the_same_messages(mini_store):
    whole = contents(mini_store)
    parts = [contents(mini_store, parse_shard(f"{i}/3")) for i in range(3)]
    assert any(lines for _, lines, _ in whole.values())  # roll-up lines are in the comparison
    assert {key: value for part in parts for key, value in part.items()} == whole


def test_a_person_is_always_in_the_same_shard():
    assert Shard(1, 4).holds("sj-head") == Shard(1, 4).holds("sj-head")
    assert sum(Shard(i, 4).holds("sj-head") for i in range(4)) == 1


def test_group_shard_keeps_that_groups_items(mini_store):
    towns = messages(mini_store, parse_shard("group:towns", mini_store, "mini-2020"))
    people = {person for person, _ in towns}
    assert people and "leaders-head" not in people


@pytest.mark.parametrize("text", ["4/4", "1/0", "x/2", "group:nobody", "towns"])
def test_bad_shards_are_named(mini_store, text):
    with pytest.raises(ValueError, match="--shard"):
        parse_shard(text, mini_store, "mini-2020")
