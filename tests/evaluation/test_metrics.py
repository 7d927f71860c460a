"""Known answers and input validation of the sample-set metrics."""

import numpy as np
import pytest

from speechgen.errors import DataError
from speechgen.evaluation import metrics as M


def one_hots(k: int, per_class: int) -> np.ndarray:
    return np.eye(k)[np.repeat(np.arange(k), per_class)]


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------------- IS
@pytest.mark.parametrize("k", [1, 2, 10])
def test_is_of_confident_uniform_one_hots_is_k(k):
    mean, std = M.inception_score(one_hots(k, 5), splits=1)
    assert mean == pytest.approx(k, rel=1e-12) and std == 0.0


def test_is_splits_are_consecutive_and_balanced_splits_give_k():
    p = np.tile(np.eye(10), (10, 1))  # every consecutive block of 10 rows holds each class once
    assert M.inception_score(p, splits=10) == pytest.approx((10.0, 0.0))


def test_is_of_identical_rows_is_one_and_bounds():
    rng = np.random.default_rng(0)
    assert M.inception_score(np.tile(softmax(rng.normal(size=(1, 10))), (20, 1)), 2)[0] == pytest.approx(1.0)
    mean, std = M.inception_score(softmax(3 * rng.normal(size=(200, 10))), splits=5)
    assert 1.0 < mean < 10.0 and std > 0.0


def test_is_one_split_is_order_free():
    p = softmax(np.random.default_rng(1).normal(size=(64, 10)) * 2)
    a = M.inception_score(p, 1)[0]
    assert M.inception_score(p[::-1], 1)[0] == pytest.approx(a, rel=1e-12)
    assert M.inception_score(np.random.default_rng(2).permutation(p), 1)[0] == pytest.approx(a, rel=1e-12)


def test_is_fewer_clips_than_splits():
    with pytest.raises(DataError, match=r"fewer clips \(3\) than splits \(10\)"):
        M.inception_score(one_hots(3, 1))


# ---------------------------------------------------------------------------------------------------- mIS
def test_mis_of_identical_one_hots_is_one():
    p = np.tile([[0.0, 1.0, 0.0]], (50, 1))
    assert M.modified_inception_score(p) == pytest.approx(1.0)
    assert M.modified_inception_score(p, n_pairs=100) == pytest.approx(1.0)  # sampled pairs


@pytest.mark.parametrize("k", [2, 10])
def test_mis_of_uniform_one_hots_closed_form(k):
    # all N^2 ordered pairs; a share 1/k has the same class (KL 0), the rest KL = -log(eps)
    eps = 1e-6
    expected = np.exp((1.0 - 1.0 / k) * -np.log(eps))
    assert M.modified_inception_score(one_hots(k, 4), eps=eps) == pytest.approx(expected, rel=1e-9)
    sampled = M.modified_inception_score(one_hots(k, 40), n_pairs=20_000, eps=eps, seed=3)
    assert np.log(sampled) == pytest.approx(np.log(expected), rel=0.03)


def test_mis_soft_rows_exact_and_seeded():
    p = softmax(np.random.default_rng(4).normal(size=(30, 5)))
    kl = [(p[i] * np.log(p[i] / p[j])).sum() for i in range(30) for j in range(30)]
    assert M.modified_inception_score(p) == pytest.approx(np.exp(np.mean(kl)), rel=1e-10)
    a = M.modified_inception_score(p, n_pairs=500, seed=1)
    assert a == M.modified_inception_score(p, n_pairs=500, seed=1) != M.modified_inception_score(p, 500, seed=2)
    assert a == pytest.approx(np.exp(np.mean(kl)), rel=0.1)


# ---------------------------------------------------------------------------------------------------- AM
def test_am_of_identical_confident_distributions_is_zero():
    p = one_hots(10, 3)
    assert M.am_score(p, p) == pytest.approx(0.0, abs=1e-12)
    assert M.am_score(p, p[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_am_known_value():
    ref = one_hots(2, 5)  # mean (0.5, 0.5)
    gen = np.tile([[0.9, 0.1]], (4, 1))  # mean (0.9, 0.1), entropy H(0.9, 0.1)
    kl = 0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(0.5 / 0.1)
    h = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))
    assert M.am_score(ref, gen) == pytest.approx(kl + h, rel=1e-12)
    with pytest.raises(DataError, match="classes"):
        M.am_score(ref, one_hots(3, 1))


# ---------------------------------------------------------------------------------------------------- FID
def test_fid_identical_sets_is_zero_and_order_free():
    f = np.random.default_rng(5).normal(size=(200, 16))
    assert M.fid(f, f) == pytest.approx(0.0, abs=1e-6)
    g = np.random.default_rng(6).normal(size=(150, 16)) * 1.5 + 0.3
    d = M.fid(f, g)
    assert d > 0.1
    assert M.fid(f[::-1], np.random.default_rng(7).permutation(g)) == pytest.approx(d, rel=1e-9)
    assert M.fid(g, f) == pytest.approx(d, rel=1e-6)


def test_frechet_distance_diagonal_closed_form():
    rng = np.random.default_rng(8)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.1, 3.0, 6), rng.uniform(0.1, 3.0, 6)
    expected = ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()
    assert M.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-6)
    # a full covariance rotated the same way leaves the distance unchanged
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    got = M.frechet_distance(q @ mu1, q @ np.diag(s1) @ q.T, q @ mu2, q @ np.diag(s2) @ q.T)
    assert got == pytest.approx(expected, rel=1e-6)


def test_fid_singular_covariances_stay_finite():
    f = np.random.default_rng(9).normal(size=(5, 32))  # N < D: rank-deficient covariances
    g = np.random.default_rng(10).normal(size=(5, 32))
    d = M.fid(f, g)
    assert np.isfinite(d) and d > 0


def test_gaussian_stats_matches_numpy():
    f = np.random.default_rng(11).normal(size=(40, 3))
    mu, sigma = M.gaussian_stats(f)
    np.testing.assert_allclose(mu, f.mean(0))
    np.testing.assert_allclose(sigma, np.cov(f.T))


def test_fid_per_class():
    rng = np.random.default_rng(12)
    ref = rng.normal(size=(60, 4))
    labels = np.repeat(np.arange(3), 20)
    assert M.fid_per_class(ref, labels, ref, labels) == pytest.approx((0.0, 0.0), abs=1e-6)
    shifted = ref + np.repeat([[0.0], [1.0], [2.0]], 20, axis=0)  # class c shifted by c in all 4 dims
    mean, std = M.fid_per_class(shifted, labels, ref, labels)
    assert mean == pytest.approx(4 * (0 + 1 + 4) / 3, rel=1e-6) and std == pytest.approx(np.std([0, 4, 16]), 1e-6)
    with pytest.raises(DataError, match=r"only generated \[\], only reference \[2\]"):
        M.fid_per_class(ref[:40], labels[:40], ref, labels)


# ---------------------------------------------------------------------------------------------------- NDB
def test_ndb_of_a_set_against_itself_is_zero():
    f = np.random.default_rng(13).normal(size=(500, 8))
    assert M.ndb(f, f, k=20) == (0, 0.0)


def test_ndb_detects_a_missing_mode_and_is_seeded():
    rng = np.random.default_rng(14)
    centres = rng.normal(scale=10.0, size=(5, 4))
    ref = centres[np.repeat(np.arange(5), 200)] + rng.normal(size=(1000, 4))
    same = centres[np.repeat(np.arange(5), 200)] + rng.normal(size=(1000, 4))
    collapsed = centres[np.repeat(np.arange(4), 250)] + rng.normal(size=(1000, 4))  # mode 4 never generated
    assert M.ndb(ref, same, k=5)[0] == 0
    count, share = M.ndb(ref, collapsed, k=5)
    assert count == 5 and share == 1.0  # 4 over-full bins and 1 empty bin
    assert M.ndb(ref, collapsed, k=10, seed=3) == M.ndb(ref, collapsed, k=10, seed=3)


def test_kmeans_recovers_separated_clusters():
    rng = np.random.default_rng(15)
    centres = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
    x = centres[np.repeat(np.arange(3), 30)] + rng.normal(size=(90, 2))
    found, labels = M.kmeans(x, 3, seed=0)
    assert sorted(np.bincount(labels).tolist()) == [30, 30, 30]
    assert np.sqrt(((centres[:, None] - found[None]) ** 2).sum(-1)).min(axis=1).max() < 0.5
    with pytest.raises(DataError, match="at least k=5"):
        M.kmeans(x[:3], 5)


# ---------------------------------------------------------------------------------------------------- labels
def test_label_accuracy():
    p = one_hots(4, 2)
    y = np.repeat(np.arange(4), 2)
    assert M.label_accuracy(p, y) == 1.0
    assert M.label_accuracy(p, (y + 1) % 4) == 0.0
    assert M.label_accuracy(p, np.where(np.arange(8) < 3, y, 0)) == pytest.approx(3 / 8)
    with pytest.raises(DataError, match=r"class ids must lie in \[0, 4\)"):
        M.label_accuracy(p, y + 1)
    with pytest.raises(DataError, match=r"labels: expected shape \(8,\)"):
        M.label_accuracy(p, y[:3])


# ---------------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("bad, message", [
    (np.array([[0.5, 0.5], [np.nan, 1.0]]), "NaN"),
    (np.array([0.5, 0.5]), "2-D"),
    (np.zeros((0, 3)), "empty"),
    (np.array([[0.5, 0.6]]), "sums to 1.1"),
    (np.array([[2.0, -1.0]]), "negative"),
])
def test_bad_probs_are_one_line_data_errors(bad, message):
    for fn in (lambda p: M.inception_score(p, 1), M.modified_inception_score, lambda p: M.am_score(p, p)):
        with pytest.raises(DataError, match=message) as e:
            fn(bad)
        assert "\n" not in str(e.value)


def test_bad_features():
    f = np.ones((10, 3))
    with pytest.raises(DataError, match="dimension"):
        M.fid(f, np.ones((10, 4)))
    with pytest.raises(DataError, match="at least 2 rows"):
        M.fid(f, f[:1])
    with pytest.raises(DataError, match="NaN"):
        M.ndb(f, np.full((4, 3), np.inf), k=2)
    with pytest.raises(DataError, match="shapes do not match"):
        M.frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


# ------------------------------------------------------------------------------------ Fréchet reference, bootstrap
def test_frechet_reference_matches_sqrtm_and_singular_sets_warn_nothing():
    import warnings

    from scipy import linalg

    rng = np.random.default_rng(12)
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(200, 8)) @ rng.normal(size=(8, 8)) + 0.5
    (m1, s1), (m2, s2) = M.gaussian_stats(a), M.gaussian_stats(b)
    expected = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * np.real(linalg.sqrtm(s1 @ s2)))
    ref = M.FrechetReference(m1, s1)
    assert ref.distance(m2, s2) == pytest.approx(expected, rel=1e-9) == M.fid(a, b)
    few = rng.normal(size=(5, 8)) + 1.0  # 5 clips <= 8 dimensions: a singular covariance
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no LinAlgWarning ("Matrix is singular") or any other
        d = ref.fid(few)
        lo, hi = ref.bootstrap(few, 50)
    assert np.isfinite(d) and d > 0 and np.isfinite([lo, hi]).all()


def test_fid_bootstrap_interval_is_seeded_and_narrows_with_n():
    rng = np.random.default_rng(13)
    ref = M.FrechetReference(np.zeros(6), np.eye(6))
    small, large = rng.normal(size=(60, 6)) + 0.5, rng.normal(size=(3000, 6)) + 0.5
    lo, hi = ref.bootstrap(large)
    assert lo <= ref.fid(large) <= hi and ref.bootstrap(large) == (lo, hi)  # seeded
    assert ref.bootstrap(large, seed=1) != (lo, hi)
    s_lo, s_hi = ref.bootstrap(small)
    assert s_hi - s_lo > 3 * (hi - lo)  # 50x fewer clips: a much wider interval
    a_lo, a_hi = ref.bootstrap(large, level=0.5)
    assert lo < a_lo < a_hi < hi
    # each resample equals the FID of the resampled rows (the weighted form computes it without indexing)
    counts = np.random.default_rng(0).multinomial(60, np.full(60, 1 / 60))
    one = M.FrechetReference(np.zeros(6), np.eye(6)).fid(np.repeat(small, counts, axis=0))
    assert ref.bootstrap_values(small, n_boot=1)[0] == pytest.approx(one, rel=1e-9)
    # resampling repeats clips, which raises FID: the interval is re-centred on the estimate
    values = ref.bootstrap_values(small)
    assert np.median(values) > ref.fid(small) and s_lo <= ref.fid(small) <= s_hi
    assert s_hi - s_lo == pytest.approx(np.diff(np.quantile(values, [0.025, 0.975]))[0], rel=1e-9)
    with pytest.raises(DataError, match="level"):
        ref.bootstrap(large, level=1.0)
    with pytest.raises(DataError, match="dimension"):
        ref.bootstrap(large[:, :3])


# ------------------------------------------------------------------------------------------------ sample size
def test_minimum_n_per_metric_flags_and_warns():
    assert set(M.MIN_N) >= {"fid", "fid_class", "inception_score", "log_modified_inception_score", "am_score",
                            "ndb_over_k", "label_accuracy"}
    assert all(isinstance(v, int) and v > 1 for v in M.MIN_N.values())
    flags, lines = M.comparability(1000, splits=M.default_is_splits(1000))  # the tables' n
    assert all(flags.values()) and lines == []
    flags, lines = M.comparability(4, 1, ["fid", "inception_score", "am_score"], dim=128)
    assert flags == {"fid": False, "inception_score": False, "am_score": False}
    assert len(lines) == 3 and all("not comparable" in line and "\n" not in line for line in lines)
    assert lines[0].startswith("FID of 4 clips") and "singular covariance" in lines[0]
    # IS also needs 100 clips per split: enough clips in all, too many splits
    n = M.MIN_N["inception_score"] * 2
    assert M.comparability(n, 2, ["inception_score"])[0]["inception_score"]
    flags, lines = M.comparability(n, 10, ["inception_score"])
    assert not flags["inception_score"] and "per split" in lines[0]
    # NDB/K grows with n: comparable only up to MAX_N_NDB
    flags, lines = M.comparability(M.MAX_N_NDB + 1, 10, ["ndb_over_k"])
    assert not flags["ndb_over_k"] and "grows with n" in lines[0]
    # right at each minimum: comparable; one clip fewer: not
    for key, need in M.MIN_N.items():
        assert M.comparability(need, 1, [key])[0][key] and not M.comparability(need - 1, 1, [key])[0][key]
    assert M.minimum_text("inception_score") == f"IS {M.MIN_N_IS} (100 per split)"


def test_default_is_splits_keep_100_clips_per_split():
    assert [M.default_is_splits(n) for n in (1, 20, 199, 200, 999, 1000, 5000)] == [1, 1, 1, 2, 9, 10, 10]


def test_sanity_failures():
    assert M.sanity_failures({"label_accuracy": 0.09})[0].startswith("label accuracy 0.090 < 0.5")
    assert M.sanity_failures({"label_accuracy": 0.9}) == [] and M.sanity_failures({"fid": 3.0}) == []
