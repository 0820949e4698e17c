"""1,000 cases at concurrency 32 against a local OpenAI-compatible server: wall time and cases/s."""

from __future__ import annotations

import asyncio
import time

from tests.evals.fake_openai import serve

from champion.adapters.evals.runner import run_suite
from champion.api.v1alpha1.evalsuite import EvalSuiteSpec


async def measure(cases: int = 1000, concurrency: int = 32) -> tuple[float, float]:
    runner, url = await serve(lambda q: (200, q.split()[-1]))
    spec = EvalSuiteSpec.model_validate(
        {
            "cases": {
                "inline": [
                    {
                        "id": f"c{i}",
                        "input": {"messages": [{"role": "user", "content": f"echo {i}"}]},
                        "reference": str(i),
                    }
                    for i in range(cases)
                ]
            },
            "scorers": [{"type": "exact"}],
            "concurrency": concurrency,
        }
    )
    try:
        started = time.perf_counter()
        results = await run_suite(spec, url)
        elapsed = time.perf_counter() - started
    finally:
        await runner.cleanup()
    assert all(r.passed for r in results), "the echo server should pass every case"
    return elapsed, cases / elapsed


def main() -> None:
    elapsed, rate = asyncio.run(measure())
    print(
        f"1000 cases at concurrency 32: {elapsed:.2f} s ({rate:.0f} cases/s), client and server in one process"
    )


if __name__ == "__main__":
    main()
