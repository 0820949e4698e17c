"""Sends fuzzed documents to a real API server (server-side dry run) and judges its answer."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from champion.adapters.kube import resource_for
from tests.fuzz.oracle import names_a_field
from tests.fuzz.strategies import Fuzzed, dotted


@dataclass(frozen=True)
class Answer:
    case: Fuzzed
    status: int
    body: dict[str, Any]

    @property
    def admitted(self) -> bool:
        return self.status in (200, 201)

    def refusal_text(self) -> str:
        """The message and every cause's field and message, as `kubectl apply` shows them."""
        causes = (self.body.get("details") or {}).get("causes") or []
        parts = [str(self.body.get("message", ""))]
        parts += [f"{c.get('field', '')}: {c.get('message', '')}" for c in causes]
        return "\n".join(parts)

    def problem(self) -> str | None:
        """Why this answer breaks the oracle, or None."""
        if self.admitted:
            return None
        if self.status not in (400, 422):
            return f"HTTP {self.status}, neither admitted nor refused as invalid"
        paths = tuple(dotted(p) for p in self.case.paths)
        if not paths:
            return "the unmutated document was refused"
        if not names_a_field(self.refusal_text(), paths):
            return "the refusal does not name the mutated field"
        return None


async def dry_run(
    session: aiohttp.ClientSession, url: str, cases: list[Fuzzed], concurrency: int = 8
) -> list[Answer]:
    """Every case POSTed with ?dryRun=All: validated and defaulted, never stored."""
    gate = asyncio.Semaphore(concurrency)

    async def one(case: Fuzzed) -> Answer:
        res = resource_for(case.doc["apiVersion"], case.kind)
        path = res.path(case.doc["metadata"].get("namespace"))
        async with (
            gate,
            session.post(
                url + path,
                params={"dryRun": "All", "fieldValidation": "Ignore"},
                data=json.dumps(case.doc),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            ) as resp,
        ):
            return Answer(case, resp.status, await resp.json(content_type=None))

    return list(await asyncio.gather(*(one(c) for c in cases)))
