"""Reads the interval's counter deltas and histogram bucket deltas from Prometheus.

Deltas come from two instant queries (at the previous analysis time and now)
subtracted, not from `rate()`/`increase()`: the judge tests counts, and
increase()'s extrapolation would invent fractional events. The catalog's
`sum(X)` and `sum by (le) (X)` queries are read without their outer sum, one
series per pod, so a reset or a vanished pod stays that pod's: per series, a
counter that went down was reset (restart) and its new value is the delta; a
series missing at the earlier instant started within the interval and counts
from zero; a series missing at the later instant (pod removed) contributes
nothing. The per-series deltas are then summed. A query of another shape is
read as one series. A version with no series at all is "no data", never zero
errors.

prometheus-api-client is synchronous, so every call runs in a worker thread to
keep kopf's event loop free.
"""

from __future__ import annotations

import asyncio
import math
import re
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from prometheus_api_client import PrometheusConnect

from champion.domain.judge.types import Counts, Histogram, Observation
from champion.domain.metrics_catalog import ConcreteMetric, render

MAX_WINDOWS = 10_000
"""History windows read per series at most (Prometheus refuses over 11,000 points)."""


class PrometheusUnavailable(Exception):
    """Prometheus could not answer (unreachable, 5xx, bad query)."""


class PrometheusClient:
    def __init__(
        self, url: str, timeout: float = 10.0, headers: dict[str, str] | None = None
    ) -> None:
        self.url = url
        # A bounded HTTP timeout: a hung Prometheus must fail the read, not the tick.
        self._conn = PrometheusConnect(
            url=url, disable_ssl=False, headers=headers, timeout=max(1, math.ceil(timeout))
        )
        self._timeout = timeout

    def _query_sync(self, query: str, at: datetime) -> list[dict[str, Any]]:
        try:
            result: list[dict[str, Any]] = self._conn.custom_query(
                query, params={"time": f"{at.timestamp():.3f}", "timeout": f"{int(self._timeout)}s"}
            )
        except Exception as exc:  # the client raises several unrelated types
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} did not answer {query!r}: {exc}"
            ) from exc
        return result

    async def query(self, query: str, at: datetime) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._query_sync, query, at)

    def _range_sync(
        self, query: str, start: datetime, end: datetime, step: timedelta
    ) -> list[dict[str, Any]]:
        try:
            result: list[dict[str, Any]] = self._conn.custom_query_range(
                query,
                start_time=start,
                end_time=end,
                step=f"{step.total_seconds():g}s",
                params={"timeout": f"{int(self._timeout)}s"},
            )
        except Exception as exc:  # the client raises several unrelated types
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} did not answer the range query {query!r}: {exc}"
            ) from exc
        return result

    async def windows(
        self, bucket_query: str, sum_query: str, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[float, float]]:
        """(requests, `_sum`) deltas of one version in each `step` of [start, end]: the
        history the mean-latency test estimates the spread of latency from. A step where
        either series is missing at one end is left out; a reset counts from zero."""
        # The requests are the +Inf bucket, the largest of the cumulative ones: one series
        # comes back instead of every bucket's.
        count_query = f"max without (le) ({bucket_query})"
        counts = _points(await asyncio.to_thread(self._range_sync, count_query, start, end, step))
        sums = _points(await asyncio.to_thread(self._range_sync, sum_query, start, end, step))
        times = sorted(set(counts) & set(sums))
        return [
            (_delta(counts[a], counts[b]), _delta(sums[a], sums[b])) for a, b in pairwise(times)
        ]

    async def _series_deltas(
        self, query: str, start: datetime, end: datetime
    ) -> dict[str, float] | None:
        """The interval's deltas of `query`, summed per group (`le` or ""), reset-aware per
        series; None when it has no series at `end`."""
        unwrapped = _unwrap(query)
        inner, by = unwrapped if unwrapped else (query, None)
        now_r = await self.query(inner, end)
        if not now_r:
            return None
        before = {_key(r): float(r["value"][1]) for r in await self.query(inner, start)}
        out: dict[str, float] = {}
        for r in now_r:
            group = r.get("metric", {}).get(by, "") if by else ""
            d = _delta(before.get(_key(r)), float(r["value"][1]))
            out[group] = out.get(group, 0.0) + d
        return out

    async def scalar_delta(self, query: str, start: datetime, end: datetime) -> float | None:
        got = await self._series_deltas(query, start, end)
        return None if got is None else sum(got.values())

    async def bucket_deltas(
        self, query: str, start: datetime, end: datetime
    ) -> tuple[list[float], list[float]] | None:
        got = await self._series_deltas(query, start, end)
        if not got:
            return None
        if "" in got and len(got) == 1:  # a custom query of another shape: one series per le
            return self._legacy_buckets(
                await self.query(query, end), await self.query(query, start)
            )
        by_le = {math.inf if le == "+Inf" else float(le): v for le, v in got.items() if le}
        edges = sorted(by_le)
        cumulative = [by_le[le] for le in edges]
        per_bucket = [
            max(0.0, c - (cumulative[i - 1] if i else 0.0)) for i, c in enumerate(cumulative)
        ]
        return edges, per_bucket

    @staticmethod
    def _legacy_buckets(
        now_r: list[dict[str, Any]], before_r: list[dict[str, Any]]
    ) -> tuple[list[float], list[float]] | None:
        now_b, before_b = _buckets(now_r), _buckets(before_r)
        if not now_b:
            return None
        edges = sorted(now_b)
        cumulative = [_delta(before_b.get(le), now_b[le]) for le in edges]
        per_bucket = [
            max(0.0, c - (cumulative[i - 1] if i else 0.0)) for i, c in enumerate(cumulative)
        ]
        return edges, per_bucket

    async def read_interval(
        self,
        metrics: list[ConcreteMetric],
        label: str,
        champion: str,
        challenger: str,
        start: datetime,
        end: datetime,
    ) -> dict[str, Observation]:
        out: dict[str, Observation] = {}
        for m in metrics:
            if m.kind == "histogram":
                c = await self.bucket_deltas(render(m.bucket_query, label, challenger), start, end)
                b = await self.bucket_deltas(render(m.bucket_query, label, champion), start, end)
                if c is None or b is None or c[0] != b[0]:
                    out[m.name] = None
                else:
                    sc, sb = None, None
                    if m.sum_query:
                        sc = await self.scalar_delta(
                            render(m.sum_query, label, challenger), start, end
                        )
                        sb = await self.scalar_delta(
                            render(m.sum_query, label, champion), start, end
                        )
                    out[m.name] = Histogram(
                        edges=c[0],
                        challenger_counts=c[1],
                        champion_counts=b[1],
                        challenger_sum=sc,
                        champion_sum=sb,
                    )
            else:
                ce = await self.scalar_delta(render(m.events_query, label, challenger), start, end)
                ct = await self.scalar_delta(render(m.total_query, label, challenger), start, end)
                be = await self.scalar_delta(render(m.events_query, label, champion), start, end)
                bt = await self.scalar_delta(render(m.total_query, label, champion), start, end)
                if ct is None or bt is None:
                    out[m.name] = None
                else:
                    out[m.name] = Counts(ce or 0.0, ct, be or 0.0, bt)
        return out

    async def read_history(
        self,
        metrics: list[ConcreteMetric],
        label: str,
        version: str,
        start: datetime,
        end: datetime,
        step: timedelta | None = None,
    ) -> dict[str, Histogram]:
        """One version's histogram bucket deltas over [start, end], for every histogram
        metric that has data there (the judge's warm-up reads only the champion's counts),
        and, given a `step` and a `_sum` query, its (requests, `_sum`) in each step."""
        out: dict[str, Histogram] = {}
        for m in metrics:
            if m.kind != "histogram":
                continue
            buckets = render(m.bucket_query, label, version)
            got = await self.bucket_deltas(buckets, start, end)
            if got is not None and sum(got[1]) > 0:
                total = None
                windows: list[tuple[float, float]] = []
                if m.sum_query:
                    sums = render(m.sum_query, label, version)
                    total = await self.scalar_delta(sums, start, end)
                    if step is not None:
                        # Prometheus answers at most 11,000 points per series: the most
                        # recent ones are plenty for a spread (docs/judge.md).
                        since = max(start, end - step * MAX_WINDOWS)
                        try:
                            windows = await self.windows(buckets, sums, since, end, step)
                        except PrometheusUnavailable:
                            windows = []  # the edges still come from the totals
                out[m.name] = Histogram(
                    edges=got[0],
                    challenger_counts=[],
                    champion_counts=got[1],
                    champion_sum=total,
                    champion_windows=windows,
                )
        return out


_SUM = re.compile(r"^sum\s*(?:by\s*\(\s*(le)\s*\)\s*)?\(\s*([A-Za-z_:][\w:]*\{[^{}()]*\})\s*\)$")


def _unwrap(query: str) -> tuple[str, str | None] | None:
    """`sum(X)` -> (X, None), `sum by (le) (X)` -> (X, "le") for a bare selector X."""
    m = _SUM.match(query.strip())
    return (m.group(2), m.group(1)) if m else None


def _key(series: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(series.get("metric", {}).items()))


def _points(result: list[dict[str, Any]]) -> dict[float, float]:
    """A range query's single series as {time: value} (empty when there is none)."""
    if not result:
        return {}
    return {float(t): float(v) for t, v in result[0].get("values", [])}


def _buckets(result: list[dict[str, Any]]) -> dict[float, float]:
    out: dict[float, float] = {}
    for series in result:
        le = series.get("metric", {}).get("le")
        if le is None:
            continue
        out[math.inf if le == "+Inf" else float(le)] = float(series["value"][1])
    return out


def _delta(before: float | None, now: float) -> float:
    if before is None:
        return now
    return now if now < before else now - before
