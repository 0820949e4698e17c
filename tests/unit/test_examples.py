"""Every example validates against the generated CRDs (schema and CEL), as a real server would check it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.emulator.apiserver.types import types_from_crd
from tests.emulator.apiserver.validation import validate

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = {
    t.kind: t.schema
    for crd in sorted((ROOT / "crds").glob("*.yaml"))
    for t in types_from_crd(yaml.safe_load(crd.read_text()))
}
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_is_valid(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc["apiVersion"].startswith("champion.dev/"):
            schema = SCHEMAS[doc["kind"]]
            assert schema is not None
            assert validate(doc, None, schema) == []


def test_every_kind_has_an_example() -> None:
    kinds = {yaml.safe_load(p.read_text()).get("kind") for p in EXAMPLES}
    assert {"ModelVersion", "GPUPool", "Rollout", "EvalSuite"} <= kinds
