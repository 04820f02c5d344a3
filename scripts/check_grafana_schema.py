#!/usr/bin/env python3
"""Validate the Grafana dashboard sparkpilot generates (monitoring/sparkpilot-grafana.json) against
Grafana's published dashboard JSON schema, which is not shipped here: give its path, e.g.
jsonschema/dashboard.jsonschema.json of github.com/grafana/grafana-foundation-sdk.

    python scripts/check_grafana_schema.py PATH/dashboard.jsonschema.json     # exit 1 on any error (needs jsonschema)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_file():
        print(__doc__.strip().splitlines()[-1].strip())
        return 2
    import jsonschema

    schema = json.loads(Path(argv[0]).read_text())
    board = json.loads((Path(__file__).resolve().parents[1] / "monitoring" / "sparkpilot-grafana.json").read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(board), key=lambda e: list(e.path))
    for e in errors:
        print(f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}")
    print(f"{len(errors)} error(s); {len(board['panels'])} panels checked against {argv[0]}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
