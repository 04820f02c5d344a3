"""Accuracy of `sparkpilot diagnose` on the labelled real logs.

    python bench/diagnose_accuracy.py [--json] [--dir DIR ...]

Reads every NNN.log with its NNN.json label from ../shared/data/logs (the shared set, labelled
before the contract names existed), tests/data/logs (labelled with the contract names before
their signatures were written) and tests/data/logs_unseen (public logs committed before issue 16's
signatures and never used to write one). "seen" and "unseen" are reported apart. Prints per case
the expected and found outcome, failure class and phases, then the class accuracy (outcome +
failure class right) and the phase accuracy (the set of contract phases found equals the labelled set),
overall and per source folder.
Labels are mapped to contract names by the tables below (CONTRACTS.md "Data labels -> names").
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIRS = [REPO / "tests" / "data" / "shared" / "data" / "logs", REPO / "tests" / "data" / "logs",
                REPO / "tests" / "data" / "logs_unseen"]
# logs no signature was written from (committed before issue 16's signatures; reported apart)
UNSEEN_DIRS = {"logs_unseen"}

# shared labels -> contract names; `other:*` not listed maps to the class of that name when one
# exists, else to `unrecognised` ("any fitting class, or unrecognised")
CLASS_MAP = {
    "other:kv_cache_insufficient_for_max_model_len": "max_model_len_too_long",
    "other:engine_dead_during_serving": "engine_dead_serving",  # EngineDeadError while serving
    "other:log_ends_during_weight_loading": None,
}
INCOMPLETE_LABELS = {"incomplete", "other:log_ends_during_weight_loading"}
PHASE_MAP = {
    "container_banner": "container_start",
    "engine_args": "engine_init", "model_resolution": "engine_init", "distributed_init": "engine_init",
    "nccl_init": "engine_init", "device_init": "engine_init", "arg_parsing": "engine_init",
    "api_server_args": "engine_init", "config_resolution": "engine_init",
    "model_load_start": "weight_loading", "model_loaded": "weight_loading",
    "torch_compile": "memory_profiling", "kv_cache_allocation": "memory_profiling",
    "kv_cache_sizing": "memory_profiling", "cudagraph_memory_profiling": "memory_profiling",
    "cuda_graph_capture": "cudagraph_capture", "flashinfer_autotune": "cudagraph_capture",
    "engine_init_done": "cudagraph_capture",
    "api_server_start": "api_server", "api_routes": "api_server",
    "application_startup_complete": "ready", "first_request": "ready",
    # after start-up or not a phase of it
    "serving": None, "engine_step_failure": None, "engine_dead": None, "shutdown": None,
    "apiserver_traceback": None,
}


def expected_of(label: dict, class_names: set[str]) -> tuple[str, str | None, set[str]]:
    outcome_label = label.get("outcome")
    cls_label = label.get("failure_class")
    if outcome_label == "ready":
        outcome, cls = "ready", None
    elif outcome_label in INCOMPLETE_LABELS or cls_label in INCOMPLETE_LABELS:
        outcome, cls = "incomplete", None
    else:
        outcome = "failed"
        cls = cls_label or outcome_label
        if cls in CLASS_MAP:
            cls = CLASS_MAP[cls]
        elif isinstance(cls, str) and cls.startswith("other:"):
            name = cls.split(":", 1)[1]
            cls = name if name in class_names else "unrecognised"
    phases = set()
    for name in label.get("phases_seen") or []:
        mapped = PHASE_MAP.get(name, name)
        if mapped:
            phases.add(mapped)
    return outcome, cls, phases


def evaluate(dirs: list[Path]) -> dict:
    sys.path.insert(0, str(REPO / "src"))
    from sparkpilot.diagnosis.analyze import diagnose_many
    from sparkpilot.diagnosis.signatures import signatures

    class_names = {s.name for s in signatures()}
    cases: list[dict[str, Any]] = []
    for folder in dirs:
        if not folder.is_dir():
            continue
        for meta in sorted(folder.glob("*.json")):
            label = json.loads(meta.read_text(encoding="utf-8"))
            files = [folder / f for f in label.get("files") or [meta.with_suffix(".log").name]]
            if not all(f.exists() for f in files):
                continue
            outcome, cls, phases = expected_of(label, class_names)
            d = diagnose_many([(f.stem, f.read_text(encoding="utf-8", errors="replace")) for f in files])
            log = meta
            found_cls = d.failure.cls if d.failure else None
            found_phases = {p.name for p in d.phases}
            cases.append({
                "case": f"{folder.parent.parent.name if folder.parent.name == 'data' else folder.name}/{log.stem}",
                "folder": str(folder), "source": (label.get("source") or {}).get("url"),
                "expected": {"outcome": outcome, "class": cls, "phases": sorted(phases)},
                "found": {"outcome": d.outcome, "class": found_cls, "phases": sorted(found_phases),
                          "stopped_in": d.stopped_in},
                "class_ok": outcome == d.outcome and cls == found_cls,
                "phases_ok": phases == found_phases,
            })
    summary = {}
    unseen = [c for c in cases if Path(c["folder"]).name in UNSEEN_DIRS]
    seen = [c for c in cases if c not in unseen]
    for key, group in [("overall", cases), ("seen", seen), ("unseen", unseen)] + [
            (f, [c for c in cases if c["folder"] == f]) for f in sorted({c["folder"] for c in cases})]:
        n = len(group)
        summary[key] = {"cases": n,
                        "class_accuracy": round(sum(c["class_ok"] for c in group) / n, 3) if n else None,
                        "phase_accuracy": round(sum(c["phases_ok"] for c in group) / n, 3) if n else None}
    return {"cases": cases, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--dir", action="append", type=Path, help="a folder of NNN.log + NNN.json (repeatable)")
    args = ap.parse_args(argv)
    result = evaluate(args.dir or DEFAULT_DIRS)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for c in result["cases"]:
        e, f = c["expected"], c["found"]
        mark = ("ok " if c["class_ok"] else "BAD") + " " + ("ok " if c["phases_ok"] else "BAD")
        print(f"{mark}  {c['case']:<22} expected {e['outcome']}/{e['class'] or '-'}  found {f['outcome']}/{f['class'] or '-'}")
        if not c["phases_ok"]:
            print(f"{'':9}phases expected {','.join(e['phases']) or '-'}  found {','.join(f['phases']) or '-'}")
    print()
    for key, s in result["summary"].items():
        if s["cases"]:
            print(f"{key}: {s['cases']} cases, class accuracy {s['class_accuracy']:.1%}, "
                  f"phase accuracy {s['phase_accuracy']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
