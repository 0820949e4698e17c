"""A tiny deterministic classifier served by KServe's own `ModelServer` (kserve 0.21.0).

The model is a fixed-weight linear classifier over four iris-like features
(sepal length, sepal width, petal length, petal width), numpy only, nothing to
download. Its scores are

    setosa     = 4 * (2.5 - petal_length)
    versicolor = 0
    virginica  = 4 * (petal_width - 1.75)

and the answer is the argmax (0, 1 or 2), so expectations can be computed by
hand: petal length 1.4 / width 0.2 -> 0; 4.7 / 1.4 -> 1; 6.0 / 2.5 -> 2.

Protocols, as KServe serves them (REST only; gRPC is off):
- v1: `POST /v1/models/NAME:predict` with `{"instances": [[f1, f2, f3, f4], ...]}`
  (and `content-type: application/json`) -> `{"predictions": [class, ...]}`.
- v2: `POST /v2/models/NAME/infer` with one FP32 input of shape [N, 4] ->
  one INT64 output `output-0` of shape [N].
- readiness: `GET /v2/health/ready`, `GET /v1/models/NAME`.

The profile is the annotation `sandbox.champion.dev/profile` (see
`vllm_sim.Profile`): `errorRate` fails that fraction of requests with HTTP 500
(KServe's own InferenceError handler), `evalAccuracy` answers that fraction of
distinct inputs right (the rest get the next class), `latencyScale` multiplies a
real, seeded log-normal delay (median 30 ms) inside `predict`. Which requests fail and which inputs
are answered wrong depend only on the seed and the input (and, for errors, on
how many times that input was seen), never on arrival order, so a suite run
against the same seed gives the same result.

Metrics at `GET /metrics` are KServe's own (prometheus_client's global
registry), not simulated. kserve 0.21.0 exports, all labelled `model_name`
only, with prometheus_client's default buckets (0.005 ... 10, +Inf):
- `request_preprocess_seconds` (histogram)
- `request_predict_seconds` (histogram)
- `request_postprocess_seconds` (histogram)
- `request_explain_seconds` (histogram, only after an explain call)
each with its `*_created` gauge (the family's creation time, as prometheus_client
writes it), plus prometheus_client's default `process_*` and `python_*`
collectors. There
is no request counter by status code: a failed predict is still observed in
`request_predict_seconds` (the timer observes on exception), so error rates are
not visible from these metrics alone.

Startup (`python -m champion.sandbox.kserve_model`, process start to
`/v2/health/ready` answering 200) measured 2.1-3.2 s over five runs on the
2-core dev machine; about 1.5 s of it is importing this module (kserve pulls in
fastapi, pandas and grpc).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import uuid
from collections import Counter
from statistics import NormalDist
from typing import Any

import numpy as np
from kserve import InferRequest, InferResponse, Model, ModelServer, model_server
from kserve.errors import InferenceError, InvalidInput
from kserve.protocol.infer_type import InferOutput
from kserve.protocol.rest.server import RESTServer

from champion.sandbox.vllm_sim import Profile

WEIGHTS = np.array(
    [
        [0.0, 0.0, -4.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 4.0],
    ]
)
BIAS = np.array([10.0, 0.0, -7.0])
BASE_LATENCY_SECONDS = 0.03
"""Median predict time at latencyScale 1: a small model with feature lookups, and far enough
from KServe's first bucket edges (5, 10, 25 ms) that p50/p90/p99 fall between edges."""
LATENCY_SIGMA = 0.4
"""Log-normal spread: p90 ≈ 1.7× and p99 ≈ 2.5× the median."""
CLASSES = ("setosa", "versicolor", "virginica")


def classify(features: np.ndarray) -> np.ndarray:
    """Classes for an [N, 4] array of features."""
    return np.argmax(features @ WEIGHTS.T + BIAS, axis=1).astype(np.int64)


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _key(features: np.ndarray) -> str:
    # Rounded so that v1's float64 and v2's FP32 encodings of the same input agree.
    return json.dumps(np.round(features.astype(np.float64), 4).tolist())


def answered_wrong(seed: int, accuracy: float, features: np.ndarray) -> bool:
    """Whether a model with this seed and evalAccuracy answers this one instance wrong."""
    return _unit(seed, "wrong", _key(features.reshape(1, -1))) >= accuracy


def default_seed(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


class LinearIris(Model):  # type: ignore[misc]
    def __init__(self, name: str, profile: Profile | None = None, seed: int | None = None) -> None:
        super().__init__(name)
        self.profile = profile or Profile()
        self.seed = default_seed(name) if seed is None else seed
        self.seen: Counter[str] = Counter()
        self.ready = True

    def answer(self, features: np.ndarray) -> np.ndarray:
        classes = classify(features)
        if self.profile.eval_accuracy < 1.0:
            for i, row in enumerate(features):
                if answered_wrong(self.seed, self.profile.eval_accuracy, row):
                    classes[i] = (classes[i] + 1) % len(CLASSES)
        return classes

    async def _behave(self, features: np.ndarray) -> None:
        key = _key(features)
        self.seen[key] += 1
        if self.profile.latency_scale > 0:
            # Real time, so KServe's own histograms see it; jitter is seeded per request.
            u = min(max(_unit(self.seed, "latency", key, self.seen[key]), 1e-9), 1 - 1e-9)
            jitter = math.exp(LATENCY_SIGMA * NormalDist().inv_cdf(u))
            await asyncio.sleep(BASE_LATENCY_SECONDS * self.profile.latency_scale * jitter)
        if _unit(self.seed, "error", key, self.seen[key]) < self.profile.error_rate:
            raise InferenceError(f"injected failure (errorRate {self.profile.error_rate})")

    async def predict(
        self,
        payload: dict[str, Any] | InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | InferResponse:
        if isinstance(payload, InferRequest):
            if not payload.inputs:
                raise InvalidInput("expected one FP32 input of shape [N, 4]")
            features = np.asarray(payload.inputs[0].as_numpy(), dtype=np.float64).reshape(-1, 4)
        else:
            try:
                features = np.asarray(payload["instances"], dtype=np.float64).reshape(-1, 4)
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInput(f"expected instances: [[f1, f2, f3, f4], ...]: {exc}") from exc
        await self._behave(features)
        classes = self.answer(features)
        if isinstance(payload, InferRequest):
            output = InferOutput(name="output-0", shape=[len(classes)], datatype="INT64")
            output.set_data_from_numpy(classes, binary_data=False)
            # KServe's v2 encoder rejects a null id, and clients may send none.
            return InferResponse(
                response_id=payload.id or str(uuid.uuid4()),
                model_name=self.name,
                infer_outputs=[output],
            )
        return {"predictions": [int(c) for c in classes]}


def _bind_rest_server_to(host: str) -> None:
    # kserve 0.21 hard-codes 0.0.0.0 in RESTServer; the sandbox runs several servers
    # on the same port of different loopback addresses, so each must bind its own.
    class HostBoundRESTServer(RESTServer):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.config.host = host

    model_server.RESTServer = HostBoundRESTServer


def serve(name: str, host: str, port: int, profile: Profile, seed: int | None) -> None:
    _bind_rest_server_to(host)
    server = ModelServer(http_port=port, enable_grpc=False, workers=1, grace_period=2)
    server.start([LinearIris(name, profile, seed)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a tiny classifier with KServe.")
    parser.add_argument("--name", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--profile", default=None, help="JSON, as sandbox.champion.dev/profile")
    parser.add_argument("--seed", type=int, default=None, help="default: derived from --name")
    args = parser.parse_args(argv)
    serve(args.name, args.host, args.port, Profile.parse(args.profile), args.seed)


if __name__ == "__main__":
    main()
