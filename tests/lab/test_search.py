"""λ* in rounds: the rounds' plan on constructed curves, and the 95% interval's coverage on simulated ones."""

import math
import random

import pytest

from decaylab.lab import optimum
from decaylab.lab.optimum import estimate
from decaylab.lab.statistics import t_interval
from decaylab.lab.transfer import search
from decaylab.lab.transfer.search import GUIDED, next_points

SEEDS = (0, 1, 2)


def curve(optimum, curvature=0.02, seeds=SEEDS):
    """Scores ``−c·(x − optimum)²`` for every seed: a λ-curve with a known best ``log10 λ``."""
    return lambda x: {seed: -curvature * (x - optimum) ** 2 for seed in seeds}


def search_on(score, prior, seeds=SEEDS, extra=()):
    """Run the rounds against ``score(x) → {seed: score}``; the scores and the number of rounds."""
    scores, rounds = {}, 0
    while points := next_points(scores, seeds, prior, extra):
        rounds += 1
        scores.update({x: score(x) for x in points})
        assert rounds < 20, "the search does not end"
    return scores, rounds


def test_the_first_round_is_a_bracket_of_decades_around_the_prior_on_the_quarter_decade_lattice():
    assert next_points({}, SEEDS, prior=-3.1) == [-5.0, -4.0, -3.0, -2.0, -1.0]
    assert next_points({}, SEEDS, prior=-3.1, extra=[-2.63]) == [-5.0, -4.0, -3.0, -2.63, -2.0, -1.0]


def test_an_optimum_inside_the_bracket_is_refined_to_half_and_quarter_decades():
    scores, rounds = search_on(curve(-2.6), prior=-3.0)
    assert rounds == 3 and {-3.0, -2.5, -2.75, -2.25} <= set(scores)
    result = estimate(scores, SEEDS)
    assert result.interior and result.best == -2.5 and result.log_lambda == pytest.approx(-2.6, abs=1e-9)


@pytest.mark.parametrize("optimum", [-7.3, 0.4])
def test_an_optimum_at_the_edge_grows_the_bracket_that_way_until_it_is_inside(optimum):
    scores, _ = search_on(curve(optimum), prior=-3.0)
    result = estimate(scores, SEEDS)
    assert result.interior and min(scores) < optimum < max(scores)
    assert result.log_lambda == pytest.approx(optimum, abs=1e-9)


def test_an_optimum_beyond_the_range_searched_is_only_bounded_and_has_no_interval():
    scores, _ = search_on(curve(-14.0), prior=-3.0)  # below the lowest λ searched
    result = estimate(scores, SEEDS)
    assert not result.interior and not result.has_interval and min(scores) >= search.LOWEST


def plateau(noise=1e-6, seeds=SEEDS):
    """A loss that stops changing toward small λ (the penalty no longer matters) and rises toward large λ, as
    on ridge regression trained briefly at a small α; tiny noise per seed, so the plateau's "best" is chance."""

    def score(x):
        rise = 0.42 / (1 + math.exp(-3 * (x + 1.5)))
        return {seed: -(0.76 + rise) + random.Random(hash((x, seed))).gauss(0, noise) for seed in seeds}

    return score


def test_a_curve_flat_toward_small_lambda_has_no_interior_optimum_and_stops_growing_the_bracket():
    scores, _ = search_on(plateau(), prior=-3.0)
    result = estimate(scores, SEEDS)
    assert not result.interior and not result.has_interval
    assert min(scores) > search.LOWEST + 2  # it stopped once the curve had flattened, not at the range's end


@pytest.mark.parametrize(("depth", "kind"), [(3.0, "interior"), (0.5, "flat")])
def test_an_optimum_is_interior_only_where_it_beats_the_plateau_by_more_than_the_noise_floor(depth, kind):
    """A dip of three tolerances (0.1% of the curve's span each) is an optimum; half of one is not told apart."""
    flat = plateau(noise=0.0)
    dip = depth * optimum.FLAT * 0.42

    def score(x):
        return {seed: value + dip * math.exp(-((x + 5.5) ** 2) / 0.5) for seed, value in flat(x).items()}

    result = estimate(search_on(score, prior=-3.0)[0], SEEDS)
    assert result.kind == kind
    assert kind != "interior" or result.log_lambda == pytest.approx(-5.5, abs=0.15)


def test_where_every_point_failed_the_bracket_grows_toward_larger_decay_until_its_end():
    """Unstable or diverged everywhere: a decoupled decay may hold α stable above, so the search grows up."""
    scores = {x: {seed: math.nan for seed in SEEDS} for x in next_points({}, SEEDS, -3.0)}
    assert next_points(scores, SEEDS, -3.0) == [0.0, 1.0] and estimate(scores, SEEDS) is None
    failing, _ = search_on(lambda x: {seed: math.nan for seed in SEEDS}, prior=-3.0)
    assert max(failing) == search.HIGHEST and estimate(failing, SEEDS) is None  # it stops at the range's end


def test_a_stability_edge_is_found_above_a_bracket_that_failed_everywhere():
    edge = search_on(lambda x: {seed: -0.01 * (x + 1) ** 2 if x >= -0.5 else math.nan for seed in SEEDS}, -3.0)
    found = estimate(edge[0], SEEDS)
    assert found.kind == "at a stability edge" and found.best == -0.5


def test_no_interval_comes_from_fewer_than_three_seeds():
    assert all(math.isnan(bound) for bound in t_interval([-2.0, -2.2]))
    scores, _ = search_on(curve(-2.6, seeds=(0, 1)), prior=-3.0, seeds=(0, 1))
    two_seeds = estimate(scores, (0, 1))
    assert two_seeds.interior and not two_seeds.has_interval
    low, high = t_interval([-2.0, -2.2, -2.1])
    assert low < -2.1 < high and high - low == pytest.approx(2 * 4.302653 * 0.1 / math.sqrt(3), rel=1e-5)


def loss_of(shape):
    """How far below its best a curve lies at a distance ``d`` (decades) from its optimum: ``|d|^shape``, or
    for ``"skewed"`` the asymmetric ``2·(e^{2d} − 2d − 1)/4`` (flat toward small λ, steep toward large)."""
    if shape == "skewed":
        return lambda d: (math.exp(2 * d) - 2 * d - 1) / 2
    return lambda d: abs(d) ** shape


def simulated(case, curvature, noise, spread, shape=2.0):
    """A setting whose true ``log10 λ*`` is known: each seed's optimum scatters around it (``spread``
    decades), each score has noise; the curve is ``−c·loss(x − optimum)`` (:func:`loss_of`)."""
    loss = loss_of(shape)
    draw = random.Random(case)
    truth, prior = draw.uniform(-4, -1), draw.uniform(-4.5, -0.5)
    optima = {seed: truth + draw.gauss(0, spread) for seed in SEEDS}

    def score(x):
        return {seed: -curvature * loss(x - optima[seed]) + random.Random(hash((case, x, seed))).gauss(0, noise)
                for seed in SEEDS}  # fmt: skip

    return truth, estimate(search_on(score, prior)[0], SEEDS)


@pytest.mark.parametrize(
    ("curvature", "noise", "spread", "shape"),
    [
        (0.02, 0.002, 0.1, 2.0),
        (0.02, 0.005, 0.2, 2.0),
        (0.05, 0.002, 0.0, 2.0),
        (0.02, 0.002, 0.1, 1.6),
        (0.02, 0.002, 0.1, "skewed"),
        (0.05, 0.0005, 0.05, "skewed"),
    ],
    ids=["accuracy-like", "noisier", "seeds agree", "not a parabola", "skewed", "skewed, little noise"],
)
def test_the_nominal_95_percent_interval_covers_the_true_optimum_90_to_99_percent_of_the_time(
    curvature, noise, spread, shape
):
    """400 simulated settings per regime, 3 seeds each: the interval covers the known λ* in 90–99% of them.
    A few settings are called flat (their best does not beat the smallest λ tried, a decade below, by more
    than 3 seeds' noise: 23 of 400 in the noisier regime) and get no interval."""
    results = [simulated(case, curvature, noise, spread, shape) for case in range(400)]
    covered = [result.low <= truth <= result.high for truth, result in results if result.has_interval]
    assert len(covered) >= 370
    assert 0.90 <= sum(covered) / len(covered) <= 0.99


def test_a_law_guided_search_starts_with_half_decades_around_the_prediction_and_still_grows_past_a_miss():
    assert next_points({}, SEEDS, prior=-3.1, extra=[-3.1], offsets=GUIDED) == [-4.0, -3.5, -3.1, -3.0, -2.5, -2.0]
    far = -0.5  # the prediction missed by 2.5 decades: the bracket grows until the optimum is inside
    scores, seeds = {}, SEEDS
    while points := next_points(scores, seeds, -3.0, offsets=GUIDED):
        scores |= {x: {s: -((x - far) ** 2) for s in seeds} for x in points}
    assert min(scores) == -4.0 and max(scores) > far and estimate(scores, seeds).kind == "interior"
