from champion.cli.main import app

app()
