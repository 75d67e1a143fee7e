"""The metric functions, checked against the reference implementations
(pytorch-fid, torch-fidelity, prdc) on the same features, and on cases
whose answer is known."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics import METRICS, Features
from ganforge.metrics.evaluate import compute_metrics
from ganforge.metrics.features import check_finite
from ganforge.metrics.fid import fid, frechet_distance, gaussian_stats
from ganforge.metrics.inception_score import inception_score_of
from ganforge.metrics.kid import kernel_distance
from ganforge.metrics.manifold import manifold_metrics
from ganforge.metrics.modes import mode_stats
from ganforge.metrics.registry import parse_metric_names


def correlated(n: int, dim: int, seed: int, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(dim, dim, generator=torch.Generator().manual_seed(1234)) / math.sqrt(dim)
    return (torch.randn(n, dim, generator=g) @ mixing) * scale + shift


def features(x: torch.Tensor, logits: torch.Tensor | None = None) -> Features:
    return Features(x.float(), logits if logits is not None else torch.zeros(len(x), 10), "test")


# -- FID ----------------------------------------------------------------------


def pytorch_fid_distance(real: torch.Tensor, fake: torch.Tensor, offset: float = 0.0) -> float:
    """pytorch-fid's number: its statistics (numpy mean and cov) and its sqrtm-based distance."""
    import warnings

    from pytorch_fid.fid_score import calculate_frechet_distance

    r, f = real.double().numpy(), fake.double().numpy()
    eye = np.eye(r.shape[1]) * offset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy's `disp` argument, inside pytorch-fid
        return float(calculate_frechet_distance(r.mean(0), np.cov(r, rowvar=False) + eye, f.mean(0), np.cov(f, rowvar=False) + eye))


def test_fid_matches_pytorch_fid() -> None:
    real, fake = correlated(900, 256, 0), correlated(900, 256, 1, scale=1.3, shift=0.05)
    assert fid(features(real), features(fake))["fid"] == pytest.approx(pytorch_fid_distance(real, fake), rel=1e-6)


def test_fid_of_singular_covariances_matches_pytorch_fid_with_its_diagonal_offset() -> None:
    # Fewer samples than dimensions: scipy's sqrtm needs pytorch-fid's 1e-6 offset, eigh does not.
    real, fake = correlated(200, 256, 0), correlated(200, 256, 1, scale=1.3, shift=0.05)
    ours = frechet_distance(*gaussian_stats(real), *gaussian_stats(fake))
    assert ours == pytest.approx(pytorch_fid_distance(real, fake, offset=1e-6), rel=1e-3)


def test_fid_of_a_set_with_itself_is_zero_and_a_shift_adds_its_squared_length() -> None:
    x = correlated(500, 32, 0)
    assert fid(features(x), features(x))["fid"] == pytest.approx(0.0, abs=1e-6)
    shift = torch.full((32,), 0.5)
    assert fid(features(x), features(x + shift))["fid"] == pytest.approx(float(shift @ shift), rel=1e-6)


def test_fid_warns_when_the_covariance_is_singular() -> None:
    with pytest.warns(UserWarning, match="covariance is singular"):
        fid(features(correlated(20, 64, 0)), features(correlated(20, 64, 1)))


# -- KID and IS: torch-fidelity on the same inputs -----------------------------------


def test_kid_matches_torch_fidelity() -> None:
    from torch_fidelity.metric_kid import (
        KEY_METRIC_KID_MEAN,
        KEY_METRIC_KID_STD,
        kid_features_to_metric,
    )

    real, fake = correlated(1300, 64, 0), correlated(1100, 64, 1, scale=1.2, shift=0.1)
    ours = compute_metrics(["kid"], features(real), features(fake))
    ref = kid_features_to_metric(fake, real, kid_subsets=100, kid_subset_size=1000, kid_degree=3, kid_gamma=None, kid_coef0=1, rng_seed=2020, verbose=False)
    assert ours["kid"] == pytest.approx(ref[KEY_METRIC_KID_MEAN], rel=1e-3)
    assert ours["kid_std"] == pytest.approx(ref[KEY_METRIC_KID_STD], rel=1e-3)
    assert ours["kid"] > 10 * ours["kid_std"] / math.sqrt(100)  # a clear difference, not noise around 0


def test_kid_is_near_zero_for_one_distribution_and_uses_smaller_subsets_for_small_sets() -> None:
    with pytest.warns(UserWarning, match="subsets of 400"):
        same = kernel_distance(correlated(400, 16, 0), correlated(500, 16, 1), subsets=20)[0]
    with pytest.warns(UserWarning, match="subsets of 400"):
        different = kernel_distance(correlated(400, 16, 0, shift=1.0), correlated(500, 16, 1), subsets=20)[0]
    assert abs(same) < 0.05 * different


def test_inception_score_matches_torch_fidelity() -> None:
    from torch_fidelity.metric_isc import (
        KEY_METRIC_ISC_MEAN,
        KEY_METRIC_ISC_STD,
        isc_features_to_metric,
    )

    logits = torch.randn(1000, 1008, generator=torch.Generator().manual_seed(0)) * 3
    ours = compute_metrics(["is"], features(torch.zeros(1000, 4)), features(torch.zeros(1000, 4), logits))
    ref = isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    assert ours["is"] == pytest.approx(ref[KEY_METRIC_ISC_MEAN], rel=1e-3)
    assert ours["is_std"] == pytest.approx(ref[KEY_METRIC_ISC_STD], rel=1e-3)


def test_inception_score_is_the_class_count_for_confident_balanced_samples_and_one_for_a_single_class() -> None:
    balanced = torch.eye(10).repeat(50, 1) * 50
    assert inception_score_of(balanced, seed=None)[0] == pytest.approx(10.0, rel=1e-3)
    single = torch.zeros(500, 10)
    single[:, 3] = 50
    assert inception_score_of(single)[0] == pytest.approx(1.0, rel=1e-3)


# -- precision / recall / density / coverage ------------------------------------------


def test_manifold_metrics_match_prdc_and_torch_fidelity() -> None:
    import prdc
    from torch_fidelity.metric_prc import prc_features_to_metric

    real, fake = correlated(600, 16, 0), correlated(500, 16, 1, scale=0.7, shift=0.3)
    ours = manifold_metrics(real, fake)
    ref = prdc.compute_prdc(real.double().numpy(), fake.double().numpy(), nearest_k=3)
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key] == pytest.approx(ref[key], rel=1e-3), key
    fidelity = prc_features_to_metric(fake.double(), real.double(), prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False, verbose=False)
    assert ours["precision"] == pytest.approx(fidelity["precision"], rel=1e-3)
    assert ours["recall"] == pytest.approx(fidelity["recall"], rel=1e-3)
    assert 0.0 < ours["recall"] < 0.95  # the narrower fake set misses part of the real manifold


def test_a_collapsed_generator_has_high_precision_and_low_recall() -> None:
    real = correlated(400, 8, 0)
    collapsed = real[:5].repeat(80, 1) + 1e-3 * torch.randn(400, 8, generator=torch.Generator().manual_seed(1))
    scores = manifold_metrics(real, collapsed)
    assert scores["precision"] == 1.0
    assert scores["recall"] < 0.1 and scores["coverage"] < 0.1


# -- modes ------------------------------------------------------------------------------


def one_hot_logits(classes: list[int], num_classes: int = 10, confidence: float = 20.0) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(classes), num_classes).float() * confidence


def test_mode_stats_count_covered_classes_and_measure_the_histogram_gap() -> None:
    real = one_hot_logits(list(range(10)) * 30)
    full = mode_stats(real, one_hot_logits(list(range(10)) * 20))
    assert full["modes"] == 10 and full["modes_total"] == 10
    assert full["modes_kl"] == pytest.approx(0.0, abs=1e-5) and full["confident"] == 1.0
    collapsed = mode_stats(real, one_hot_logits([3] * 199 + [4]))
    assert collapsed["modes"] == 1  # one stray 4 in 200 is below a tenth of the 4s' real share
    assert collapsed["modes_kl"] > 2.0
    unsure = mode_stats(real, torch.zeros(50, 10))
    assert unsure["confident"] == 0.0


# -- registry and input checks ----------------------------------------------------------


@pytest.mark.parametrize("name", METRICS.names())
def test_every_registered_metric_returns_finite_numbers(name: str) -> None:
    g = torch.Generator().manual_seed(0)
    real = Features(torch.randn(60, 8, generator=g), torch.randn(60, 10, generator=g), "test")
    fake = Features(torch.randn(50, 8, generator=g) + 0.5, torch.randn(50, 10, generator=g), "test")
    with pytest.warns(UserWarning, match="KID: subsets") if name == "kid" else contextlib.nullcontext():
        values = METRICS.get(name).fn(real, fake)
    assert values and all(math.isfinite(v) for v in values.values())


def test_metric_names_are_validated() -> None:
    assert parse_metric_names("fid, KID,fid") == ["fid", "kid"]
    with pytest.raises(GanforgeError, match="unknown metric 'fd'.*fid"):
        parse_metric_names("fd")


def test_nan_features_are_refused_naming_the_image() -> None:
    x = torch.randn(5, 4)
    x[2, 1] = float("nan")
    with pytest.raises(GanforgeError, match="1 of the 5 fake images are NaN.*image 2"):
        check_finite(Features(x, torch.zeros(5, 3), "inception"), "fake images")


def test_pr_and_coverage_share_one_distance_computation(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganforge.metrics import manifold

    calls = []
    original = manifold.manifold_metrics
    monkeypatch.setattr(manifold, "manifold_metrics", lambda *a, **k: calls.append(1) or original(*a, **k))
    real, fake = features(correlated(50, 4, 0)), features(correlated(40, 4, 1))
    both = compute_metrics(["pr", "coverage"], real, fake)
    assert calls == [1] and set(both) == {"precision", "recall", "density", "coverage"}
    compute_metrics(["pr"], features(correlated(50, 4, 2)), fake)  # new features: computed again
    assert calls == [1, 1]
