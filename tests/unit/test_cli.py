from typer.testing import CliRunner

from champion import __version__
from champion.cli.main import app
from champion.cli.plugin import app as plugin_app


def test_champion_version_prints_package_version() -> None:
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def test_kubectl_plugin_version() -> None:
    result = CliRunner().invoke(plugin_app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__
