"""Evaluation metrics (FID, KID, IS, precision/recall, density/coverage, modes)
and the feature networks they run on (FID Inception, ganforge's classifier)."""

from ganforge.metrics import fid, inception_score, kid, manifold, modes  # noqa: F401  (register the metrics)
from ganforge.metrics.evaluate import (
    EvalResult,
    Evaluator,
    evaluate_paths,
)
from ganforge.metrics.features import Features, extract_features
from ganforge.metrics.registry import METRICS, list_metrics, register_metric

__all__ = [
    "METRICS",
    "EvalResult",
    "Evaluator",
    "Features",
    "evaluate_paths",
    "extract_features",
    "list_metrics",
    "register_metric",
]
