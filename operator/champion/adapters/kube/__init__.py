"""The Kubernetes adapter: a small async client and the resource table it needs."""

from champion.adapters.kube.client import ApiError, Conflict, KubeApi, NotFound, connect
from champion.adapters.kube.resources import Resource, resource_for

__all__ = ["ApiError", "Conflict", "KubeApi", "NotFound", "Resource", "connect", "resource_for"]
