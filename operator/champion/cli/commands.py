"""Registers the `champion` sub-commands, each defined in its own module."""

from __future__ import annotations

import importlib

import typer

# (module, attribute, name) of each sub-app or command; a module that does not
# exist yet is skipped so the CLI keeps working while commands are added.
_SUBAPPS: list[tuple[str, str, str]] = [
    ("champion.cli.crds_cmd", "app", "crds"),
    ("champion.cli.run_cmd", "app", "run"),
    ("champion.cli.sandbox_cmd", "app", "sandbox"),
    ("champion.cli.eval_cmd", "app", "eval"),
    ("champion.cli.demo_cmd", "app", "demo"),
]


def register(app: typer.Typer) -> None:
    for module_name, attr, name in _SUBAPPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        sub = getattr(module, attr)
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=name)
        else:
            app.command(name=name)(sub)
