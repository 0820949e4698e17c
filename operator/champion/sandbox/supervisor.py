"""The sandbox's one long-lived process: API server, Prometheus, cluster stand-ins, load.

Started detached by `champion sandbox up`; writes DIR/kubeconfig, DIR/env and,
last, DIR/ready; stops everything on SIGTERM/SIGINT.
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

from champion.sandbox.apiserver.server import ApiServer
from champion.sandbox.cluster import ClusterStandIn, sandbox_nodes
from champion.sandbox.jobs import JobRunner
from champion.sandbox.load import LoadGenerator
from champion.sandbox.prometheus import PrometheusServer


async def supervise(workdir: Path, rps: float, gpu_nodes: int, api_port: int) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    api = await ApiServer(port=api_port).start()
    for node in sandbox_nodes(gpu_nodes):
        api.seed(node)
    prometheus = await asyncio.to_thread(PrometheusServer(workdir / "prometheus").start)
    cluster = ClusterStandIn(api, prometheus, log_dir=workdir / "model-servers")
    load = LoadGenerator(api, rps)
    jobs = JobRunner(api, workdir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    kubeconfig = api.write_kubeconfig(workdir / "kubeconfig")
    (workdir / "env").write_text(
        f"export KUBECONFIG={kubeconfig}\nexport CHAMPION_PROMETHEUS_URL={prometheus.url}\n"
    )
    (workdir / "pids.json").write_text(
        json.dumps(
            {
                "supervisor": os.getpid(),
                "prometheus": prometheus.proc.pid if prometheus.proc else None,
            }
        )
    )
    (workdir / "ready").write_text(json.dumps({"apiserver": api.url, "prometheus": prometheus.url}))
    load_task = asyncio.create_task(load.run(stop))
    try:
        while not stop.is_set():
            try:
                await cluster.reconcile()
                jobs.reconcile()
            except Exception:  # a stand-in controller keeps going, like a real one
                logging.getLogger("champion.sandbox").exception("cluster stand-in reconcile failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        stop.set()
        await load_task
        jobs.close()
        await cluster.close()
        await asyncio.to_thread(prometheus.stop)
        await api.stop()
        with contextlib.suppress(FileNotFoundError):
            (workdir / "ready").unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--rps", type=float, default=20.0)
    parser.add_argument("--gpu-nodes", type=int, default=2)
    parser.add_argument("--api-port", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(supervise(args.dir, args.rps, args.gpu_nodes, args.api_port))


if __name__ == "__main__":
    main()
