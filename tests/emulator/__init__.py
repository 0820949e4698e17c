"""The emulated Kubernetes API server and its stand-in controllers, for fast in-process tests.

The sandbox, the demo, the e2e tests and the scale benchmark run on a real control plane
(champion.sandbox.controlplane); this emulation stays for unit and integration tests that want
an API server in the test's own event loop, with faults injected on chosen requests.
docs/emulated-apiserver.md lists how it differs from kube-apiserver 1.36.3.
"""
