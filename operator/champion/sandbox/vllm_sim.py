"""A simulated vLLM OpenAI-compatible server with vLLM's real metric names and buckets.

Latency is *simulated*, not slept: each request draws a time to first token and
a time per output token from heavy-tailed distributions (scaled by the
version's `latencyScale`) and records them in the histograms vLLM exports, then
answers at once. The metrics are what a real vLLM would show under that
latency; the sandbox stays cheap on a 2-core machine.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from champion.domain.metrics_catalog import VLLM_E2E_BUCKETS as E2E_BUCKETS
from champion.domain.metrics_catalog import VLLM_TPOT_BUCKETS as TPOT_BUCKETS
from champion.domain.metrics_catalog import VLLM_TTFT_BUCKETS as TTFT_BUCKETS


@dataclass
class Profile:
    latency_scale: float = 1.0
    error_rate: float = 0.0
    thumbs_down_rate: float = 0.05
    eval_accuracy: float = 1.0

    @classmethod
    def parse(cls, text: str | None) -> Profile:
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            return cls()
        return cls(
            latency_scale=float(data.get("latencyScale", 1.0)),
            error_rate=min(1.0, max(0.0, float(data.get("errorRate", 0.0)))),
            thumbs_down_rate=min(1.0, max(0.0, float(data.get("thumbsDownRate", 0.05)))),
            eval_accuracy=min(1.0, max(0.0, float(data.get("evalAccuracy", 1.0)))),
        )


@dataclass
class SimulatedVLLM:
    served_model: str
    profile: Profile = field(default_factory=Profile)
    seed: int | None = None

    def __post_init__(self) -> None:
        # Seeded by the version's name: the same demo run draws the same latencies.
        import hashlib

        seed = (
            self.seed
            if self.seed is not None
            else int(hashlib.sha256(self.served_model.encode()).hexdigest()[:8], 16)
        )
        self.rng = random.Random(seed)
        self.registry = CollectorRegistry()
        labels = ["model_name"]
        self.e2e = Histogram(
            "vllm:e2e_request_latency_seconds",
            "End-to-end request latency.",
            labels,
            buckets=E2E_BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "vllm:time_to_first_token_seconds",
            "Time to first token.",
            labels,
            buckets=TTFT_BUCKETS,
            registry=self.registry,
        )
        self.tpot = Histogram(
            "vllm:request_time_per_output_token_seconds",
            "Time per output token.",
            labels,
            buckets=TPOT_BUCKETS,
            registry=self.registry,
        )
        self.success = Counter(
            "vllm:request_success",
            "Finished requests.",
            ["model_name", "finished_reason"],
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "vllm:prompt_tokens", "Prompt tokens.", labels, registry=self.registry
        )
        self.generation_tokens = Counter(
            "vllm:generation_tokens", "Generated tokens.", labels, registry=self.registry
        )
        self.waiting = Gauge(
            "vllm:num_requests_waiting", "Requests waiting.", labels, registry=self.registry
        )
        self.http = Counter(
            "http_requests",
            "HTTP requests by handler and status class.",
            ["handler", "method", "status"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "champion_feedback", "User feedback on answers.", ["verdict"], registry=self.registry
        )
        self.waiting.labels(self.served_model).set(0)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_post("/v1/completions", self._complete)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        app.router.add_post("/feedback", self._feedback)
        return app

    def simulate(self) -> tuple[bool, float, float, int, int]:
        """One request: (ok, ttft, tpot, prompt tokens, output tokens)."""
        scale = self.profile.latency_scale
        # Shapes seen on a chat workload: TTFT ~0.2 s median, TPOT ~25 ms, ~60 output tokens.
        ttft = self.rng.lognormvariate(-1.6, 0.5) * scale
        tpot = self.rng.lognormvariate(-3.7, 0.25) * scale
        prompt = self.rng.randint(50, 800)
        output = max(1, int(self.rng.lognormvariate(4.1, 0.35)))
        ok = self.rng.random() >= self.profile.error_rate
        return ok, ttft, tpot, prompt, output

    def record(
        self, ok: bool, ttft: float, tpot: float, prompt: int, output: int, handler: str
    ) -> None:
        m = self.served_model
        if not ok:
            self.http.labels(handler, "POST", "5xx").inc()
            self.success.labels(m, "abort").inc()
            return
        self.http.labels(handler, "POST", "2xx").inc()
        self.ttft.labels(m).observe(ttft)
        self.tpot.labels(m).observe(tpot)
        self.e2e.labels(m).observe(ttft + tpot * output)
        self.prompt_tokens.labels(m).inc(prompt)
        self.generation_tokens.labels(m).inc(output)
        self.success.labels(m, "stop").inc()

    async def _complete(self, request: web.Request) -> web.Response:
        ok, ttft, tpot, prompt, output = self.simulate()
        self.record(ok, ttft, tpot, prompt, output, request.path)
        if not ok:
            return web.json_response(
                {"error": {"message": "simulated server error", "type": "server_error"}}, status=500
            )
        content = self.reply(await request.json())
        body: dict[str, Any] = {
            "id": f"cmpl-{self.rng.getrandbits(48):x}",
            "object": "chat.completion",
            "model": self.served_model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": output,
                "total_tokens": prompt + output,
            },
        }
        return web.json_response(body)

    def reply(self, payload: dict[str, Any]) -> str:
        """Arithmetic questions ("what is 3+4?") get an answer, right with the profile's evalAccuracy."""
        import re

        messages = payload.get("messages") or [{"content": payload.get("prompt", "")}]
        question = str(messages[-1].get("content", ""))
        m = re.search(r"(-?\d+)\s*\+\s*(-?\d+)", question)
        if m is None:
            return "ok"
        value = int(m.group(1)) + int(m.group(2))
        # Wrong answers are deterministic per question, so a suite sees a stable accuracy.
        import hashlib

        bucket = int(hashlib.sha256(question.encode()).hexdigest()[:6], 16) % 1000 / 1000.0
        wrong = bucket >= self.profile.eval_accuracy
        return f"The answer is {value + 1 if wrong else value}."

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), content_type="text/plain")

    async def _health(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _feedback(self, request: web.Request) -> web.Response:
        verdict = "down" if self.rng.random() < self.profile.thumbs_down_rate else "up"
        self.feedback.labels(verdict).inc()
        return web.json_response({"verdict": verdict})
