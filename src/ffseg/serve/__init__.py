"""Serving a model over HTTP (the ``serve`` extra: FastAPI, uvicorn).

:mod:`ffseg.serve.app` builds the FastAPI app (``create_app``) around a results-API
:class:`~ffseg.inference.results.Predictor`; :mod:`ffseg.serve.batching` holds the dynamic
batcher. ``ffseg serve MODEL`` runs it with uvicorn. Importing this package needs no extra.
"""

from ffseg.serve.batching import DynamicBatcher, QueueFullError

__all__ = ["DynamicBatcher", "QueueFullError"]
