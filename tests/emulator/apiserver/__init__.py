"""An emulated Kubernetes API server for tests, the sandbox and e2e (see docs/emulated-apiserver.md)."""

from tests.emulator.apiserver.server import ApiServer

__all__ = ["ApiServer"]
