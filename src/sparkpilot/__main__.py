from sparkpilot.cli.main import entry

entry()
