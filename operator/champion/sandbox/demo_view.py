"""The demo's live timeline: one line per change of phase, step, weights or verdict."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

PHASE_STYLE = {
    "Succeeded": "bold green",
    "RolledBack": "bold red",
    "Aborted": "bold red",
    "RollingBack": "red",
    "Canary": "yellow",
    "Shadow": "cyan",
    "EvalGate": "magenta",
    "Promoting": "green",
}


@dataclass
class Timeline:
    console: Console
    started: float = field(default_factory=time.monotonic)
    last_key: tuple[Any, ...] | None = None
    seen: set[tuple[Any, ...]] = field(default_factory=set)
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    verbose: bool = False
    """Print each verdict's evidence (counts, e-values, thresholds), not only its one line."""

    def stamp(self) -> str:
        return f"{time.monotonic() - self.started:6.1f}s"

    def say(self, text: str, style: str = "") -> None:
        self.console.print(
            f"[dim]{self.stamp()}[/dim] {text}", style=style or None, highlight=False
        )

    def observe(
        self, rollout: dict[str, Any], decisions: list[dict[str, Any]] | None = None
    ) -> None:
        """`decisions`: the Rollout's decisions with their evidence (from its evidence
        ConfigMap); without them, those `.status.history` keeps, without evidence."""
        status = rollout.get("status") or {}
        weights = status.get("weights") or {}
        key = (
            status.get("phase"),
            status.get("step"),
            weights.get("champion"),
            weights.get("challenger"),
            status.get("mirrorPercent"),
            status.get("champion"),
            status.get("challenger"),
        )
        if key != self.last_key and status.get("phase"):
            self.last_key = key
            phase = status.get("phase", "?")
            step = status.get("step")
            step_txt = f" step {step}" if step is not None else ""
            mirror = status.get("mirrorPercent") or 0
            mirror_txt = f", mirror {mirror}%" if mirror else ""
            style = PHASE_STYLE.get(phase, "white")
            self.say(
                f"[{style}]{phase:<12}[/{style}]{step_txt}  champion={status.get('champion') or '-'}"
                f" ({weights.get('champion', 0)}%)  challenger={status.get('challenger') or '-'}"
                f" ({weights.get('challenger', 0)}%){mirror_txt}"
                + (f"  — {escape(status.get('message') or '')}" if status.get("message") else "")
            )
        history = decisions if decisions is not None else status.get("history") or []
        # History is bounded (oldest entries drop out): identify records, not positions.
        for record in history:
            rkey = (
                record.get("time"),
                record.get("decision"),
                record.get("reason"),
                record.get("message"),
            )
            if rkey not in self.seen:
                self.seen.add(rkey)
                self._verdict(record)

    def _verdict(self, record: dict[str, Any]) -> None:
        decision = record.get("decision", "")
        if decision == "transition" or (
            decision == "continue" and record.get("reason") == "AnalysisContinue"
        ):
            # Phase changes have their own line; routine "no regression yet" ticks would flood the screen.
            return
        style = "red" if decision == "rollback" else "green" if decision == "promote" else "white"
        self.say(
            f"  [{style}]verdict {decision}[/{style}] ({record.get('reason')}): {record.get('message', '')}"
        )
        for ev in record.get("evidence", [])[:4] if self.verbose else []:
            counts = ""
            if ev.get("challengerTotal") is not None:
                counts = (
                    f" challenger {ev.get('challengerEvents', 0):.0f}/{ev.get('challengerTotal', 0):.0f}"
                    f" vs champion {ev.get('championEvents', 0):.0f}/{ev.get('championTotal', 0):.0f}"
                )
            stat = ""
            # The detail already names this test's e-value and threshold; `statistic` is the
            # metric's (a histogram's edges averaged), shown only when there is no detail.
            if ev.get("statistic") is not None and not ev.get("detail"):
                stat = f" e={ev['statistic']:.3g} (threshold {ev.get('threshold', 0):.3g})"
            self.say(
                f"      {ev.get('metric')}:{counts}{stat} {escape(ev.get('detail', ''))}",
                style="dim",
            )

    def record(self, what: str, outcome: str, detail: str) -> None:
        self.rows.append((what, outcome, detail))

    def summary(self) -> Table:
        table = Table(title="Champion demo summary")
        table.add_column("step")
        table.add_column("outcome")
        table.add_column("why")
        for row in self.rows:
            table.add_row(*row)
        return table
