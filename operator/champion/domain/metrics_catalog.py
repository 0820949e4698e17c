"""Pure: analysis metric presets -> the concrete metrics and PromQL the judge is fed with.

`{{version}}` in a query stands for the version's label value; `{{label}}` for
the label name (spec.analysis.versionLabel). Counter queries return one value,
bucket queries one series per `le`; the Prometheus adapter subtracts two
instants to get the interval's deltas.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from champion.api.v1alpha1.rollout import AnalysisMetric, Direction, MetricKind, MetricPreset

# Bucket edges of vLLM's latency histograms, as its Prometheus logger defines them: what the
# judge sees for the vllm-latency preset (the sandbox's simulated servers use the same).
VLLM_E2E_BUCKETS: tuple[float, ...] = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)
VLLM_TTFT_BUCKETS: tuple[float, ...] = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
VLLM_TPOT_BUCKETS: tuple[float, ...] = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
)


@dataclass(frozen=True)
class ConcreteMetric:
    name: str
    kind: str  # "counts" | "histogram"
    direction: str
    margin: float
    events_query: str = ""
    total_query: str = ""
    bucket_query: str = ""
    latency_margin: float | None = None
    sum_query: str = ""
    """Histograms: the `_sum` series, for the mean-latency test ("" when unknown)."""


def _hist(series: str) -> str:
    return f'sum by (le) ({series}_bucket{{{{{{label}}}}="{{{{version}}}}"}})'


def _sum(series: str, extra: str = "") -> str:
    selector = '{{label}}="{{version}}"' + (f",{extra}" if extra else "")
    return f"sum({series}{{{selector}}})"


def expand(metrics: list[AnalysisMetric]) -> list[ConcreteMetric]:
    out: list[ConcreteMetric] = []
    for m in metrics:
        d, margin = str(Direction(m.direction)), m.margin
        first = len(out)
        if m.preset == MetricPreset.VLLM_LATENCY:
            for short, series in (
                ("e2e", "vllm:e2e_request_latency_seconds"),
                ("ttft", "vllm:time_to_first_token_seconds"),
                ("tpot", "vllm:request_time_per_output_token_seconds"),
            ):
                out.append(
                    ConcreteMetric(
                        f"{m.name}_{short}",
                        "histogram",
                        d,
                        margin,
                        bucket_query=_hist(series),
                        sum_query=_sum(f"{series}_sum"),
                    )
                )
        elif m.preset == MetricPreset.KSERVE_LATENCY:
            out.append(
                ConcreteMetric(
                    m.name,
                    "histogram",
                    d,
                    margin,
                    bucket_query=_hist("request_predict_seconds"),
                    sum_query=_sum("request_predict_seconds_sum"),
                )
            )
        elif m.preset == MetricPreset.VLLM_ERRORS:
            out.append(
                ConcreteMetric(
                    m.name,
                    "counts",
                    d,
                    margin,
                    events_query=_sum("http_requests_total", 'status="5xx"'),
                    total_query=_sum("http_requests_total"),
                )
            )
        elif m.preset == MetricPreset.FEEDBACK:
            out.append(
                ConcreteMetric(
                    m.name,
                    "counts",
                    "higher-is-worse",
                    margin,
                    events_query=_sum("champion_feedback_total", 'verdict="down"'),
                    total_query=_sum("champion_feedback_total"),
                )
            )
        elif m.preset == MetricPreset.EVAL_SCORE:
            out.append(
                ConcreteMetric(
                    m.name,
                    "counts",
                    d,
                    margin,
                    events_query=_sum("champion_eval_case_failures_total"),
                    total_query=_sum("champion_eval_cases_total"),
                )
            )
        elif m.kind == MetricKind.HISTOGRAM and m.bucket_query:
            out.append(
                ConcreteMetric(
                    m.name,
                    "histogram",
                    d,
                    margin,
                    bucket_query=m.bucket_query,
                    sum_query=m.sum_query or "",
                )
            )
        elif m.events_query and m.total_query:
            out.append(
                ConcreteMetric(
                    m.name,
                    "counts",
                    d,
                    margin,
                    events_query=m.events_query,
                    total_query=m.total_query,
                )
            )
        if m.latency_margin is not None:
            out[first:] = [
                replace(c, latency_margin=m.latency_margin) if c.kind == "histogram" else c
                for c in out[first:]
            ]
    return out


def render(query: str, label: str, version: str) -> str:
    return query.replace("{{label}}", label).replace("{{version}}", version)
