"""Enough of Kubernetes' protobuf encoding to read what `kubectl create` sends.

kubectl sends typed built-ins as `application/vnd.kubernetes.protobuf` (`kubectl create
namespace|configmap|secret|serviceaccount`). This decoder knows the wire format and the field
numbers of those four kinds (and ObjectMeta's name, generateName, namespace, labels,
annotations, finalizers); answers are JSON, which kubectl accepts. Any other kind is a 415
naming `kubectl apply -f` (JSON) as the way.
"""

from __future__ import annotations

import base64
from typing import Any

from tests.emulator.apiserver import errors

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((number, value))
    return out


def _map(entries: list[bytes], binary: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in entries:
        parts = dict(_fields(entry))
        key = parts.get(1, b"").decode()
        raw = parts.get(2, b"")
        out[key] = base64.b64encode(raw).decode() if binary else raw.decode()
    return out


def _meta(buf: bytes) -> dict[str, Any]:
    fields = _fields(buf)
    meta: dict[str, Any] = {}
    for number, name in ((1, "name"), (2, "generateName"), (3, "namespace")):
        value = next((v for n, v in fields if n == number), b"")
        if value:
            meta[name] = value.decode()
    for number, name in ((11, "labels"), (12, "annotations")):
        entries = [v for n, v in fields if n == number]
        if entries:
            meta[name] = _map(entries)
    finalizers = [v.decode() for n, v in fields if n == 14]
    if finalizers:
        meta["finalizers"] = finalizers
    return meta


def _strings(fields: list[tuple[int, Any]], number: int) -> list[str]:
    return [v.decode() for n, v in fields if n == number]


def _decode_kind(kind: str, raw: bytes) -> dict[str, Any]:
    fields = _fields(raw)
    meta = next((v for n, v in fields if n == 1), b"")
    obj: dict[str, Any] = {"metadata": _meta(meta)}

    def entries(number: int) -> list[bytes]:
        return [v for n, v in fields if n == number]

    if kind == "Namespace":
        spec = next((v for n, v in fields if n == 2), None)
        if spec:
            obj["spec"] = {"finalizers": _strings(_fields(spec), 1)}
    elif kind == "ConfigMap":
        if entries(2):
            obj["data"] = _map(entries(2))
        if entries(3):
            obj["binaryData"] = _map(entries(3), binary=True)
        if entries(4):
            obj["immutable"] = bool(entries(4)[-1])
    elif kind == "Secret":
        if entries(2):
            obj["data"] = _map(entries(2), binary=True)
        if entries(3):
            obj["type"] = entries(3)[-1].decode()
        if entries(4):
            obj["stringData"] = _map(entries(4))
        if entries(5):
            obj["immutable"] = bool(entries(5)[-1])
    elif kind == "ServiceAccount":
        pulls = [dict(_fields(v)).get(1, b"").decode() for v in entries(3)]
        if pulls:
            obj["imagePullSecrets"] = [{"name": p} for p in pulls]
        if entries(4):
            obj["automountServiceAccountToken"] = bool(entries(4)[-1])
    else:
        raise errors.unsupported_media_type(
            f"the emulated API server reads protobuf only for Namespace, ConfigMap, Secret and "
            f"ServiceAccount, not {kind}: send JSON (kubectl apply -f) instead"
        )
    return obj


def decode(body: bytes) -> dict[str, Any]:
    if not body.startswith(MAGIC):
        raise errors.bad_request("protobuf body without the k8s envelope")
    try:
        envelope = dict(_fields(body[len(MAGIC) :]))
        type_meta = dict(_fields(envelope.get(1, b"")))
        api_version = type_meta.get(1, b"").decode()
        kind = type_meta.get(2, b"").decode()
        obj = _decode_kind(kind, envelope.get(2, b""))
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"cannot decode the protobuf body: {exc}") from exc
    return {"apiVersion": api_version, "kind": kind, **obj}
