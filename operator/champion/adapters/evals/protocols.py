"""Request and response shapes per protocol (OpenAI chat/completions, KServe v1/v2)."""

from __future__ import annotations

import json
from typing import Any

from champion.api.v1alpha1.evalsuite import Protocol


class MalformedResponse(Exception):
    pass


def request(protocol: str, model: str, case_input: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if protocol == Protocol.OPENAI_CHAT:
        messages = case_input.get("messages") or [
            {"role": "user", "content": case_input.get("prompt", "")}
        ]
        return "/v1/chat/completions", {"model": model, "messages": messages, "temperature": 0}
    if protocol == Protocol.OPENAI_COMPLETIONS:
        return "/v1/completions", {
            "model": model,
            "prompt": case_input.get("prompt", ""),
            "temperature": 0,
        }
    if protocol == Protocol.KSERVE_V1:
        return f"/v1/models/{model}:predict", case_input
    return f"/v2/models/{model}/infer", case_input


def answer(protocol: str, body: Any) -> str:
    try:
        if protocol == Protocol.OPENAI_CHAT:
            return str(body["choices"][0]["message"]["content"])
        if protocol == Protocol.OPENAI_COMPLETIONS:
            return str(body["choices"][0]["text"])
        if protocol == Protocol.KSERVE_V1:
            preds = body["predictions"]
            return (
                str(preds[0])
                if isinstance(preds, list)
                and len(preds) == 1
                and not isinstance(preds[0], dict | list)
                else json.dumps(preds)
            )
        data = body["outputs"][0]["data"]
        return str(data[0]) if len(data) == 1 else json.dumps(data)
    except (KeyError, IndexError, TypeError) as exc:
        raise MalformedResponse(f"malformed {protocol} response: missing {exc}") from exc
