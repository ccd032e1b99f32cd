"""The champion/challenger gate and alias history replay."""

import pytest

from mlplatform.registry.history import AliasEvent, champion_stack, events_from_tags, next_seq
from mlplatform.registry.promotion import decide


@pytest.mark.parametrize(
    ("candidate", "champion", "champion_score", "tolerance", "auto", "promote", "reason"),
    [
        (0.8, None, None, 0.0, True, True, "no champion yet"),
        (0.9, "1", 0.9, 0.0, True, True, ">= champion v1"),
        (0.95, "1", 0.9, 0.0, True, True, ">= champion v1"),
        (0.89, "1", 0.9, 0.0, True, False, "< champion v1"),
        (0.89, "1", 0.9, 0.02, True, True, "within tolerance"),
        (0.87, "1", 0.9, 0.02, True, False, "< champion v1 0.9000 - 0.02"),
        (0.99, "1", None, 0.0, True, False, "cannot be scored"),
        (0.99, None, None, 0.0, False, False, "automatic promotion is off"),
    ],
)
def test_gate(candidate, champion, champion_score, tolerance, auto, promote, reason):
    decision = decide(candidate, champion, champion_score, metric="f1_macro", tolerance=tolerance, auto_promote=auto)
    assert decision.promote is promote
    assert reason in decision.reason


def test_decision_tags_record_both_scores():
    tags = decide(0.5, "3", 0.9, metric="f1_macro").as_tags()
    assert tags["promotion.decision"] == "challenger"
    assert tags["promotion.candidate_score"] == "0.5"
    assert tags["promotion.champion_score"] == "0.9"
    assert tags["promotion.champion_version"] == "3"


def event(seq, version, action="promote", alias="production"):
    return AliasEvent(seq, alias, version, None, action, "me", "2026-11-22T00:00:00+00:00", "why")


def test_events_round_trip_through_tags_in_order():
    events = [event(2, "2"), event(1, "1"), event(10, "3")]
    tags = {e.tag_key: e.to_json() for e in events} | {"other": "x"}
    assert [e.seq for e in events_from_tags(tags)] == [1, 2, 10]
    assert next_seq(events) == 11


def test_champion_stack_pops_on_rollback():
    history = [event(1, "1"), event(2, "2"), event(3, "3"), event(4, "2", "rollback")]
    assert champion_stack(history, "production") == ["1", "2"]
    history.append(event(5, "1", "rollback"))
    assert champion_stack(history, "production") == ["1"]


def test_champion_stack_ignores_other_aliases_and_repeats():
    history = [event(1, "1"), event(2, "2", "challenger", "challenger"), event(3, "1", "manual"), event(4, "3")]
    assert champion_stack(history, "production") == ["1", "3"]
