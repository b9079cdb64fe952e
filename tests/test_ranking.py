"""Rankings: wins, rank intervals, top set, letters, evidence-consistent order (METHOD.md 7)."""

import json
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import riskbench
from riskbench.errors import DegenerateDataWarning, InputError
from riskbench.ranking import NO_DECISION, _consistent_order, compact_letters, rank_intervals


def _strict(payload):
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(json.dumps(payload, allow_nan=False), parse_constant=refuse)


def test_tie_groups_hand_checked():
    # rank order 0..4; 0 beats 2, 3, 4; 1 beats 3, 4; 2 beats 4
    reject = np.zeros((5, 5), dtype=bool)
    for i, j in [(0, 2), (0, 3), (0, 4), (1, 3), (1, 4), (2, 4)]:
        reject[i, j] = True
    groups = riskbench.tie_groups(np.arange(5), reject)
    # {0, 1}: 2 is separated from 0 -> new group {2, 3} (2 vs 3 not separated); 4 vs 2 -> new
    assert groups.tolist() == [1, 1, 2, 2, 3]


def test_separated_models_get_their_own_groups():
    rng = np.random.default_rng(0)
    data = {f"m{a}": rng.normal(2.0 * a, 1.0, 400) for a in range(4)}
    ranking = riskbench.rank(data, n_resamples=200, seed=1)
    assert ranking.models == ("m3", "m2", "m1", "m0")
    assert ranking.letters == ("a", "b", "c", "d")
    assert ranking.wins.tolist() == [3, 2, 1, 0]
    assert ranking.best_set == ("m3",) and ranking.top_set == ("m3",)
    # every model separated from every other: each rank is known exactly
    assert ranking.rank_low.tolist() == ranking.rank_high.tolist() == [1, 2, 3, 4]
    assert ranking.decisions[0, 1:].all() and not ranking.decisions[1:, 0].any()


def test_indistinguishable_models_share_a_group():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, 300)
    data = {"a": base + rng.normal(0, 0.01, 300), "b": base + rng.normal(0, 0.01, 300),
            "c": base - 3.0}
    ranking = riskbench.rank(data, n_resamples=200, seed=2)
    frame = ranking.to_frame()
    assert frame["letters"].tolist() == ["a", "a", "b"]
    assert set(ranking.top_set) == {"a", "b"}
    assert list(frame.columns)[:9] == ["model", "rank", "rank_low", "rank_high", "letters",
                                       "eps", "eps_sd", "wins", "beaten_by"]
    assert frame["rank_low"].tolist() == [1, 1, 3] and frame["rank_high"].tolist() == [2, 2, 3]


def test_identical_models_warn():
    x = np.arange(20.0)
    with pytest.warns(DegenerateDataWarning, match="identical score distributions"):
        ranking = riskbench.rank({"a": x, "b": x[::-1].copy(), "c": x - 5}, n_resamples=50,
                                 seed=0)
    assert ranking.group.tolist()[:2] == [1, 1]


def test_rank_orders_by_wins_then_eps():
    rng = np.random.default_rng(4)
    data = {f"m{a}": rng.normal(0.05 * a, 1.0, 100) for a in range(5)}
    ranking = riskbench.rank(data, n_resamples=100, seed=0)
    keys = list(zip(-ranking.wins, ranking.eps, strict=True))
    assert keys == sorted(keys)


def test_absolute_test_ranking_and_dict():
    rng = np.random.default_rng(5)
    data = {f"m{a}": rng.normal(a, 1.0, 200) for a in range(3)}
    ranking = riskbench.rank(data, test="absolute", order=1, n_resamples=100, seed=3)
    d = ranking.to_dict()
    json.dumps(d)
    assert d["test"] == "absolute" and d["order"] == 1 and d["eps0"] == 0.25 and d["seed"] == 3
    assert [r["model"] for r in d["ranking"]] == ["m2", "m1", "m0"]
    assert "eps-FSD" in d["h0"]


def test_mean_risk_criterion():
    rng = np.random.default_rng(6)
    # same mean, different spread: the tail criterion prefers the narrow model
    data = {"narrow": rng.normal(0, 0.5, 500), "wide": rng.normal(0, 3.0, 500)}
    ranking = riskbench.rank(data, criterion="tvar", p=0.1, n_resamples=200, seed=0)
    assert ranking.models[0] == "narrow" and ranking.wins[0] == 1
    assert "score_tvar" in ranking.to_frame().columns
    with pytest.raises(InputError, match="has no absolute test"):
        riskbench.rank(data, criterion="tvar", test="absolute")


def test_lower_is_better_metric_is_oriented():
    table = riskbench.load_demo()
    ranking = riskbench.rank(table, metric="length", n_resamples=50, seed=0)
    means = ranking.to_frame()["mean"]
    # the shortest answers come first, in the metric's own units
    assert means.iloc[0] < means.iloc[-1]
    assert means.iloc[0] > 0
    assert any("lower-is-better" in note for note in ranking.notes)


def test_ranking_with_independent_design_on_ragged_table():
    rng = np.random.default_rng(8)
    data = {"a": rng.normal(1, 1, 80), "b": rng.normal(0, 1, 60), "c": rng.normal(0, 1, 70)}
    ranking = riskbench.rank(data, design="independent", n_resamples=100, seed=0)
    assert ranking.models[0] == "a"
    assert dict(zip(ranking.models, ranking.n_items, strict=True)) == {"a": 80, "b": 60, "c": 70}


def test_samples_require_metric_for_multi_metric_table():
    with pytest.raises(InputError) as info:
        riskbench.load_demo().samples()
    assert str(info.value) == ("riskbench demo (AlpacaEval 2.0): the table has 3 metrics (length, "
                               "offensive, win); choose one with metric= (CLI: --metric)")


def test_same_seed_same_ranking():
    rng = np.random.default_rng(9)
    data = {f"m{a}": rng.normal(0.1 * a, 1.0, 120) for a in range(6)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", riskbench.errors.CalibrationWarning)
        a = riskbench.rank(data, n_resamples=100, seed=7, batch=3).to_frame()
        b = riskbench.rank(data, n_resamples=100, seed=7).to_frame()
    assert a.equals(b)


def test_results_carry_version_seed_and_input_checksum():
    table = riskbench.load_demo().select(models=riskbench.load_demo().models[:4])
    d = riskbench.rank(table, metric="win", n_resamples=20, seed=3).to_dict()
    assert d["seed"] == 3 and d["riskbench_version"] == riskbench.__version__
    assert d["input_sha256"] == table.checksum and len(table.checksum) == 64
    frame = riskbench.read_scores(table.to_frame(), higher_is_better=table.higher_is_better)
    again = riskbench.read_scores(table.to_frame(), higher_is_better=table.higher_is_better)
    assert frame.checksum == again.checksum  # a DataFrame gets a checksum of its content


def test_rank_intervals_hand_checked():
    # 0 beats 2, 3; 1 beats 3; nothing else
    reject = np.zeros((4, 4), dtype=bool)
    for i, j in [(0, 2), (0, 3), (1, 3)]:
        reject[i, j] = True
    low, high = rank_intervals(reject)
    # rank_i in [1 + #beaten by, k - #beats]
    assert low.tolist() == [1, 1, 2, 3] and high.tolist() == [2, 3, 4, 4]


@given(st.integers(2, 9), st.data())
def test_compact_letters_share_a_letter_exactly_when_not_separated(k, data):
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    flags = data.draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    sep = np.zeros((k, k), dtype=bool)
    for (i, j), f in zip(pairs, flags, strict=True):
        sep[i, j] = sep[j, i] = f
    order = np.array(data.draw(st.permutations(range(k))))
    letters = compact_letters(order, sep)
    assert all(letters)  # every model has a letter
    for a in range(k):
        for b in range(a + 1, k):
            # with k <= 9 every letter is one character
            share = bool(set(letters[a]) & set(letters[b]))
            assert share == (not sep[order[a], order[b]])
    assert letters[0].startswith("a")


def test_compact_letters_on_a_chain():
    # 0 vs 2 separated only: {0, 1} and {1, 2}
    sep = np.zeros((3, 3), dtype=bool)
    sep[0, 2] = sep[2, 0] = True
    assert compact_letters(np.arange(3), sep) == ("a", "ab", "b")


def test_order_never_puts_a_model_below_one_it_first_order_dominates():
    # keys say 1 first, but 0 dominates 1; 2 is free
    fsd = np.zeros((3, 3), dtype=bool)
    fsd[0, 1] = True
    order = _consistent_order([(0, 0.5, "m0"), (-1, 0.1, "m1"), (0, 0.2, "m2")], fsd)
    assert order.tolist() == [2, 0, 1]
    rng = np.random.default_rng(12)
    base = rng.normal(0, 1, 150)
    data = {f"m{a}": base + 0.02 * a + rng.normal(0, 0.3, 150) for a in range(6)}
    data["top"] = np.sort(base) + 3.0  # dominates every model, paired or not
    ranking = riskbench.rank(data, n_resamples=100, seed=1)
    fsd = riskbench.ranking.empirical_fsd(ranking.samples)
    pos = {m: a for a, m in enumerate(ranking.models)}
    for i, mi in enumerate(ranking.samples.models):
        for j, mj in enumerate(ranking.samples.models):
            if fsd[i, j]:
                assert pos[mi] < pos[mj]


def test_perfect_twins_rank_above_a_nearly_perfect_model():
    # HELM-like safety scores in {0, .25, ..., 1}: two models at 1.0 on every item dominate
    # every other model; C has mean 0.99875 (one item at 0.75)
    rng = np.random.default_rng(0)
    n = 200
    one = np.ones(n)
    c = one.copy()
    c[7] = 0.75
    data = {"A": one, "B": one.copy(), "C": c}
    for a, m in enumerate([0.99, 0.9375, 0.9875, 0.9775, 0.995, 0.98]):
        x = one.copy()
        short = int(round((1 - m) * n / 0.75))
        x[rng.choice(n, short, replace=False)] = rng.choice([0, 0.25, 0.5, 0.75], short)
        data[f"o{a}"] = x
    for order in (1, 2):
        with pytest.warns(DegenerateDataWarning, match="identical score distributions"):
            ranking = riskbench.rank(data, order=order, n_resamples=200, seed=1)
        assert ranking.models[:2] == ("A", "B") and ranking.models[2] == "C"
        assert ranking.rank[:2].tolist() == [1.5, 1.5]  # twins share a mid-rank
        assert ranking.eps[0] == ranking.eps[1] == 0.0  # their own pair is left out
        assert ranking.letters[0] == ranking.letters[1]


def test_borda_ties_share_points():
    # three models at 1.0 on every item of both metrics: identical, so equal points
    table = riskbench.read_scores(__import__("pandas").DataFrame(
        [{"model": m, "item": t, "metric": u, "value": v}
         for u in ("x", "y") for t in range(60)
         for m, v in (("p1", 1.0), ("p2", 1.0), ("p3", 1.0), ("q", 0.5 + 0.5 * (t % 2)),
                      ("r", 0.25 * (t % 4)))]), item="item")
    with pytest.warns(DegenerateDataWarning):
        agg = riskbench.rank(table, portfolio=None, n_resamples=50, seed=0)
    frame = agg.to_frame()
    top = frame[frame["model"].isin(["p1", "p2", "p3"])]
    assert top["borda"].nunique() == 1 and top["rank"].tolist() == [2.0, 2.0, 2.0]
    assert top["rank_x"].tolist() == [2.0, 2.0, 2.0]
    assert agg.top_set is None
    _strict(agg.to_dict())


def test_borda_warnings_name_their_metric():
    """Of a Borda count's per-metric rankings, each warning says which metric it is about."""
    pd = __import__("pandas")
    rows = [{"model": m, "item": t, "metric": u, "value": v}
            for t in range(40) for m, v in (("a", t % 3), ("b", (t + 1) % 3), ("c", t % 2))
            for u in ("spread", "flat")]
    rows = [dict(r, value=1.0) if r["metric"] == "flat" else r for r in rows]
    table = riskbench.read_scores(pd.DataFrame(rows), item="item")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        riskbench.rank(table, portfolio=None, n_resamples=50, seed=0)
    degenerate = [str(w.message) for w in caught if w.category is DegenerateDataWarning]
    assert degenerate and all(m.startswith("metric 'flat': ") for m in degenerate)
    assert not any("'spread'" in str(w.message) for w in caught
                   if w.category is DegenerateDataWarning)


def test_bh_gives_no_top_set_or_interval_guarantee():
    rng = np.random.default_rng(2)
    data = {f"m{a}": rng.normal(0.5 * a, 1.0, 300) for a in range(4)}
    ranking = riskbench.rank(data, correction="bh", n_resamples=100, seed=0)
    assert ranking.top_set is None and ranking.interval_level is None
    assert ranking.best_set  # still computed, named for what it is
    assert any("false discovery rate only" in n for n in ranking.notes)
    d = _strict(ranking.to_dict())
    assert d["top_set"] is None and d["simultaneous"] is False
    assert all(r["top"] is None for r in d["ranking"])
    fwer = riskbench.rank(data, n_resamples=100, seed=0)
    assert fwer.interval_level == 0.95 and fwer.top_set == fwer.best_set


def test_no_decision_when_nothing_is_separated():
    rng = np.random.default_rng(3)
    data = {f"m{a}": rng.normal(0, 1, 30) for a in range(3)}
    ranking = riskbench.rank(data, n_resamples=50, seed=0)
    assert ranking.no_decision and not ranking.decisions.any()
    assert ranking.notes[0].startswith(NO_DECISION.capitalize())
    d = _strict(ranking.to_dict())
    assert d["decision"] == NO_DECISION and d["no_decision"] is True
    assert set(ranking.letters) == {"a"}
    assert ranking.rank_low.tolist() == [1, 1, 1] and ranking.rank_high.tolist() == [3, 3, 3]


def test_rank_json_carries_the_pairwise_decisions():
    rng = np.random.default_rng(4)
    data = {f"m{a}": rng.normal(a, 1.0, 200) for a in range(3)}
    d = _strict(riskbench.rank(data, n_resamples=100, seed=0).to_dict())
    assert len(d["pairs"]) == 6
    pair = next(p for p in d["pairs"] if p["model_i"] == "m2" and p["model_j"] == "m0")
    assert pair["reject"] is True and pair["decided_by"] in ("dominance", "equality", "both")
    assert set(pair) >= {"pvalue", "pvalue_adjusted", "pvalue_dominance", "equality_pvalue",
                         "ci_high"}
    assert d["ranking"][0]["rank_interval"] == [1, 1]


def test_identical_pairs_and_empirical_fsd_against_plain_loops():
    from riskbench._samples import Samples
    from riskbench.inference import identical_pairs
    from riskbench.ranking import empirical_fsd

    rng = np.random.default_rng(8)
    base = rng.integers(0, 4, 6).astype(float)
    values = (base, np.repeat(base, 2), base + 0.5, np.sort(base)[::-1].copy(),
              rng.integers(0, 4, 9).astype(float))
    samples = Samples(tuple(f"m{a}" for a in range(5)), values, False)
    same = identical_pairs(samples)
    fsd = empirical_fsd(samples)

    def quantile(x, p):  # Q(p) = inf{x : F(x) >= p}
        xs = np.sort(x)
        return xs[int(np.ceil(p * xs.size)) - 1]

    grid = (np.arange(1, 5 * 6 * 9 * 2 + 1)) / (5 * 6 * 9 * 2)  # every breakpoint of all sizes
    for i in range(5):
        for j in range(5):
            if i == j:
                continue
            qi = np.array([quantile(values[i], p) for p in grid])
            qj = np.array([quantile(values[j], p) for p in grid])
            assert same[i, j] == bool(np.array_equal(qi, qj)), (i, j)
            assert fsd[i, j] == bool((qi >= qj).all() and (qi > qj).any()), (i, j)
    assert same[0, 1] and same[0, 3] and fsd[2, 0] and not fsd[0, 2]


def test_identical_pairs_by_keys_match_the_pairwise_rule_on_many_models():
    """The grouped twins (one key per model) are the pairs the plain pairwise rule finds:
    same distinct values, proportional counts; sizes differ, -0.0 is 0.0."""
    from riskbench._samples import Samples
    from riskbench.inference import identical_pairs

    rng = np.random.default_rng(21)
    bases = [rng.integers(-2, 3, rng.integers(3, 8)).astype(float) for _ in range(6)]
    values = []
    for _ in range(60):
        v = np.repeat(bases[rng.integers(6)], rng.integers(1, 4))
        if rng.random() < 0.2:
            v = v.copy()
            v[rng.integers(v.size)] += 0.25  # a near twin, not a twin
        if rng.random() < 0.3:
            v = np.where(v == 0.0, -0.0, v)
        values.append(rng.permutation(v))
    samples = Samples(tuple(f"m{a}" for a in range(60)), tuple(values), False)

    def plain(x, y):
        (vx, cx), (vy, cy) = np.unique(x, return_counts=True), np.unique(y, return_counts=True)
        return vx.size == vy.size and np.array_equal(vx, vy) and np.array_equal(
            cx * y.size, cy * x.size)

    expected = np.array([[i != j and plain(values[i], values[j]) for j in range(60)]
                         for i in range(60)])
    same = identical_pairs(samples)
    np.testing.assert_array_equal(same, expected)
    assert 40 < expected.sum() < 60 * 59  # twins and non-twins both occur



def test_identical_pairs_remembered_only_while_the_values_are_the_same():
    """Asked again for the same samples, the twins come from memory (the same answer, and a
    copy the caller may change); values changed in place are looked at afresh."""
    from riskbench._samples import Samples
    from riskbench.inference import identical_pairs

    values = [np.array([1.0, 2.0, 2.0]), np.array([2.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0])]
    samples = Samples(("a", "b", "c"), tuple(values), True)
    first = identical_pairs(samples)
    assert first[0, 1] and not first[0, 2]
    first[0, 2] = True  # the caller's copy: not the memory
    assert not identical_pairs(samples)[0, 2]
    values[2][0] = 2.0  # now c = (2, 1, 2): a twin of a and b
    assert identical_pairs(samples)[0, 2] and identical_pairs(samples)[1, 2]
    values[2][0] = 0.0
    assert not identical_pairs(samples)[0, 2]

def _letters_oracle(order, separated):
    """Piepho's insert-and-absorb as first written: absorb over all letters after each split."""
    k = order.size
    sep = separated[np.ix_(order, order)]
    columns = [(1 << k) - 1]
    for i, j in zip(*np.nonzero(np.triu(sep, 1)), strict=True):
        both = (1 << int(i)) | (1 << int(j))
        split = []
        for c in columns:
            split += ([c & ~(1 << int(i)), c & ~(1 << int(j))] if c & both == both else [c])
        kept = []
        for c in sorted(set(split), key=lambda c: -c.bit_count()):
            if not any(c & d == c for d in kept):
                kept.append(c)
        columns = kept
    columns.sort(key=lambda c: [p for p in range(k) if c >> p & 1])
    return tuple("".join(riskbench.ranking._letter(n) for n, c in enumerate(columns)
                         if c >> p & 1) for p in range(k))


@pytest.mark.parametrize("seed", range(40))
def test_compact_letters_equal_the_plain_insert_and_absorb(seed):
    """The fast absorb (only new letters checked) gives the letters of absorbing everything."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 30))
    upper = np.triu(rng.random((k, k)) < rng.uniform(0.1, 0.9), 1)
    separated = upper | upper.T
    order = rng.permutation(k)
    letters = riskbench.compact_letters(order, separated, max_letters=None)
    assert letters == _letters_oracle(order, separated)


def test_a_letter_display_that_would_need_too_many_letters_is_given_up(monkeypatch):
    """Scattered separated pairs among many models need exponentially many letters (500
    models, 172 pairs: 220 s); past LETTERS_MAX the display is '-' with a note saying why."""
    k = 40
    separated = np.zeros((k, k), dtype=bool)
    for a in range(0, k, 2):  # 20 disjoint separated pairs: 2^20 letters
        separated[a, a + 1] = separated[a + 1, a] = True
    assert compact_letters(np.arange(k), separated) is None
    assert len(set("".join(compact_letters(np.arange(8), separated[:8, :8])))) == 16
    rng = np.random.default_rng(0)
    data = {f"m{a}": rng.normal(a, 1, 60) for a in range(4)}  # a chain: 3+ letters
    monkeypatch.setattr(riskbench.ranking, "LETTERS_MAX", 1)
    ranking = riskbench.rank(data, n_resamples=40, seed=0)
    assert ranking.test.reject.any() and set(ranking.letters) == {"-"}
    assert any("Letters: not shown ('-')" in n for n in ranking.notes)
