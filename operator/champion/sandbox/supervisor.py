"""The sandbox's one long-lived process: a real control plane, Prometheus, the data plane, load.

Started detached by `champion sandbox up`; writes DIR/kubeconfig (admin), DIR/operator.kubeconfig
(a token of the chart's ServiceAccount), DIR/env and, last, DIR/ready; stops everything on
SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
from pathlib import Path

from champion.adapters.kube import connect
from champion.sandbox.controlplane import K8S_VERSION, ROOT, ControlPlane
from champion.sandbox.dataplane import DataPlane, run_forever
from champion.sandbox.install import (
    OPERATOR_SA,
    RELEASE_NAMESPACE,
    install,
    token_kubeconfig,
)
from champion.sandbox.load import LoadGenerator
from champion.sandbox.prometheus import PrometheusServer

log = logging.getLogger("champion.sandbox")


def write_env(workdir: Path, cp: ControlPlane, prometheus_url: str, operator_kc: Path) -> None:
    path = os.pathsep.join([str(ROOT / ".tools" / "bin"), str(ROOT / ".venv" / "bin"), "$PATH"])
    (workdir / "env").write_text(
        f"export KUBECONFIG={cp.admin_kubeconfig}\n"
        f"export CHAMPION_PROMETHEUS_URL={prometheus_url}\n"
        f"export CHAMPION_OPERATOR_KUBECONFIG={operator_kc}\n"
        f'export PATH="{path}"\n'
    )


async def supervise(workdir: Path, rps: float, gpu_nodes: int, eval_namespaces: list[str]) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    cp = ControlPlane(workdir)
    prometheus = PrometheusServer(workdir / "prometheus")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    plane: DataPlane | None = None
    try:
        await asyncio.to_thread(cp.start)
        await asyncio.to_thread(prometheus.start)
        pids = {"supervisor": os.getpid(), **cp.pids}
        if prometheus.proc:
            pids["prometheus"] = prometheus.proc.pid
        (workdir / "pids.json").write_text(json.dumps(pids))
        admin = cp.admin_kubeconfig
        await asyncio.to_thread(install, admin, gpu_nodes, prometheus.url, eval_namespaces)
        ca = cp.pki / "ca.crt"
        operator_kc = await asyncio.to_thread(
            token_kubeconfig, admin, cp.url, ca, RELEASE_NAMESPACE, OPERATOR_SA,
            workdir / "operator.kubeconfig",
        )  # fmt: skip
        tokens: dict[tuple[str, str], Path] = {}

        def kubeconfig_for(namespace: str, sa: str) -> Path:
            if (namespace, sa) not in tokens:
                out = workdir / f"sa-{namespace}-{sa}.kubeconfig"
                tokens[(namespace, sa)] = token_kubeconfig(admin, cp.url, ca, namespace, sa, out)
            return tokens[(namespace, sa)]

        api = await connect(str(admin), user_agent="champion-sandbox")
        plane = DataPlane(api, prometheus, workdir, kubeconfig_for)
        load = LoadGenerator(plane.view, rps)
        write_env(workdir, cp, prometheus.url, operator_kc)
        (workdir / "ready").write_text(
            json.dumps(
                {
                    "apiserver": cp.url,
                    "version": K8S_VERSION,
                    "prometheus": prometheus.url,
                    "operator_kubeconfig": str(operator_kc),
                }
            )
        )
        log.info("sandbox ready: %s (kube-apiserver %s)", cp.url, K8S_VERSION)
        load_task = asyncio.create_task(load.run(stop))
        await run_forever(plane, stop)
        await load_task
        await api.close()
    finally:
        stop.set()
        if plane is not None:
            await plane.close()
        await asyncio.to_thread(prometheus.stop)
        await asyncio.to_thread(cp.stop)
        with contextlib.suppress(FileNotFoundError):
            (workdir / "ready").unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--rps", type=float, default=20.0)
    parser.add_argument("--gpu-nodes", type=int, default=2)
    parser.add_argument("--eval-namespaces", default="demo")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    namespaces = [n for n in args.eval_namespaces.split(",") if n]
    asyncio.run(supervise(args.dir.resolve(), args.rps, args.gpu_nodes, namespaces))


if __name__ == "__main__":
    main()
