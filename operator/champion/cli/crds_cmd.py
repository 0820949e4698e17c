"""`champion crds`: print the CRDs generated from the API models."""

from __future__ import annotations

import typer


def crds() -> None:
    """Print Champion's CustomResourceDefinitions as YAML (pipe to `kubectl apply -f -`)."""
    from champion.api.crdgen import all_crds
    from champion.api.render import crd_yaml

    typer.echo("---\n".join(crd_yaml(c) for c in all_crds()), nl=False)


app = crds
