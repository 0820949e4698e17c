"""`python -m tests.emulator.apiserver.standalone --kubeconfig PATH [--port N] [--crd DIR]`: the
emulated API server in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

import yaml

from tests.emulator.apiserver.server import ApiServer


async def serve_forever(
    kubeconfig: Path, port: int, host: str = "127.0.0.1", crds: list[Path] | None = None
) -> None:
    server = await ApiServer(host=host, port=port).start()
    try:
        for path in crds or []:
            files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
            for file in files:
                server.seed_all(list(yaml.safe_load_all(file.read_text())))
        # The kubeconfig appears only once the server answers: its existence is the readiness signal.
        server.write_kubeconfig(kubeconfig)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(
            f"emulated Kubernetes API server on {server.url}; kubeconfig {kubeconfig}", flush=True
        )
        await stop.wait()
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--crd", type=Path, action="append", default=[])
    args = parser.parse_args()
    asyncio.run(serve_forever(args.kubeconfig, args.port, crds=args.crd))


if __name__ == "__main__":
    main()
