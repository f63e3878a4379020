"""Properties of the Security Risk Score, each checked over many generated accounts."""

from __future__ import annotations

import math
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from tests.support.scoring import (
    NON_CAPPING_KINDS,
    SEVERITIES,
    Signal,
    capping_signals,
    signal_lists,
    signal_strategy,
)
from vigilare.scoring.formula import SUSPENSION_CEILING, ScoreResult, compute_score

every_signal = st.one_of(signal_strategy(), capping_signals)
any_signal_lists = st.lists(every_signal, max_size=40)


def _all_costs(signals: list[Signal]) -> ScoreResult:
    return compute_score(signals, top_n=len(signals))


def test_no_signals_scores_100() -> None:
    result = compute_score([])
    assert result.score == 100
    assert result.breakdown == ()
    assert result.top_signals == ()
    assert result.cap is None


@given(any_signal_lists)
def test_score_is_an_integer_between_0_and_100(signals: list[Signal]) -> None:
    score = compute_score(signals).score
    assert isinstance(score, int)
    assert 0 <= score <= 100


@given(any_signal_lists, every_signal)
def test_opening_a_signal_never_raises_the_score(signals: list[Signal], extra: Signal) -> None:
    before = compute_score(signals)
    after = compute_score([*signals, extra])
    assert after.score <= before.score
    assert after.uncapped_score <= before.uncapped_score
    assert after.penalty >= before.penalty


@given(st.lists(signal_strategy(severities=("LOW",)), max_size=300), st.sampled_from(NON_CAPPING_KINDS))
def test_one_critical_weighs_more_than_any_number_of_lows(lows: list[Signal], pair: tuple[str, str]) -> None:
    one_critical = compute_score([Signal(pair[0], pair[1], "CRITICAL")])
    assert one_critical.score < compute_score(lows).score


def test_one_critical_weighs_more_than_thousands_of_distinct_lows() -> None:
    lows = [Signal(f"plugin{i}", f"kind{i}", "LOW") for i in range(5000)]
    assert compute_score([Signal("iam", "root_access_keys", "CRITICAL")]).score < compute_score(lows).score


@given(
    signal_lists,
    st.sampled_from(NON_CAPPING_KINDS),
    st.sampled_from(SEVERITIES),
    st.integers(min_value=2, max_value=12),
)
def test_each_repeat_of_a_kind_costs_less_than_the_previous(
    others: list[Signal], pair: tuple[str, str], severity: str, repeats: int
) -> None:
    others = [s for s in others if (s.scenario, s.kind) != pair]
    group = [Signal(pair[0], pair[1], severity, resource=f"res-{n}") for n in range(repeats)]
    costs = [c for c in _all_costs(others + group).top_signals if (c.scenario, c.kind) == pair]
    penalties = sorted((c.penalty for c in costs), reverse=True)
    points = sorted((c.points for c in costs), reverse=True)
    assert len(penalties) == repeats
    assert all(later < earlier for earlier, later in pairwise(penalties))
    assert all(later < earlier for earlier, later in pairwise(points))


@given(st.sampled_from(NON_CAPPING_KINDS), st.integers(min_value=3, max_value=30))
def test_marginal_cost_of_a_high_repeat_shrinks(pair: tuple[str, str], repeats: int) -> None:
    totals = [
        compute_score([Signal(pair[0], pair[1], "HIGH", resource=f"r{i}") for i in range(n)]).penalty
        for n in range(repeats + 1)
    ]
    marginal = [b - a for a, b in pairwise(totals)]
    assert all(later < earlier for earlier, later in pairwise(marginal))


@given(any_signal_lists, capping_signals)
def test_suspension_precursor_caps_the_score_at_10(signals: list[Signal], trigger: Signal) -> None:
    result = compute_score([*signals, trigger])
    assert result.score <= SUSPENSION_CEILING
    assert result.cap is not None
    assert (trigger.scenario, trigger.kind) in {(t.scenario, t.kind) for t in result.cap.triggers}


@given(signal_lists)
def test_no_cap_without_a_suspension_precursor(signals: list[Signal]) -> None:
    result = compute_score(signals)
    assert result.cap is None
    assert result.score == result.uncapped_score


@given(st.lists(every_signal, max_size=30).flatmap(lambda s: st.tuples(st.just(s), st.permutations(s))))
def test_input_order_does_not_matter(pair: tuple[list[Signal], list[Signal]]) -> None:
    original, shuffled = pair

    def summary(result: ScoreResult) -> tuple[object, ...]:
        top = [(c.scenario, c.kind, c.severity, c.title, c.resource, c.points) for c in result.top_signals]
        return (result.score, result.uncapped_score, result.penalty, result.breakdown, top, result.cap)

    assert summary(compute_score(original)) == summary(compute_score(shuffled))


@given(any_signal_lists)
def test_breakdown_accounts_for_every_lost_point(signals: list[Signal]) -> None:
    result = _all_costs(signals)
    lost = 100 - result.score
    assert sum(loss.points for loss in result.breakdown) == lost
    assert sum(loss.signal_count for loss in result.breakdown) == len(signals)
    assert math.isclose(math.fsum(c.points for c in result.top_signals), lost, abs_tol=1e-6)
    points = [loss.points for loss in result.breakdown]
    assert points == sorted(points, reverse=True)


@given(any_signal_lists, st.integers(min_value=0, max_value=8))
def test_top_signals_are_the_costliest(signals: list[Signal], top_n: int) -> None:
    everything = _all_costs(signals).top_signals
    top = compute_score(signals, top_n=top_n).top_signals
    assert len(top) == min(top_n, len(signals))
    assert [c.points for c in top] == sorted((c.points for c in everything), reverse=True)[:top_n]
