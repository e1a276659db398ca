"""Training and evaluation engine (plain functions)."""

from ffseg.engine.evaluate import evaluate, evaluate_classification, predict_scores

__all__ = ["evaluate", "evaluate_classification", "predict_scores"]
