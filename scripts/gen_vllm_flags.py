#!/usr/bin/env python3
"""Generate the table of real `vllm serve` flags from vLLM's own source, per vLLM version.

Nothing here is typed by hand: the script reads vLLM's source statically with `ast` (importing
vllm needs CUDA and torch), follows the calls that build the `vllm serve` parser
(serve.py -> make_arg_parser -> FrontendArgs.add_cli_args -> AsyncEngineArgs.add_cli_args ->
EngineArgs.add_cli_args), and re-derives what vLLM's `get_kwargs(ConfigClass)` makes of each
config dataclass field (BooleanOptionalAction for bools, `choices` from Literal types, nargs for
lists, enum members for enum-typed fields).

Sources:
  default      `pip download vllm==X --no-deps` from PyPI into --cache, then read the wheel.
  --src DIR    a vLLM source tree or site-packages dir that holds vllm/ (e.g. /opt/vllm in the
               NGC container: `docker run --rm -v $PWD:/out nvcr.io/nvidia/vllm:26.04-py3 ...`);
               give --label for the version and --source-note for where it came from.

Output: src/sparkpilot/knowledge/vllm_flags/<version>.json and index.json (versions, and the
NGC container tags that ship each version, with the release notes that say so).

  python scripts/gen_vllm_flags.py                     # the default versions below
  python scripts/gen_vllm_flags.py --versions 0.19.0   # just one
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vllm_static.fields import to_flags
from vllm_static.interp import ClassRef, FuncRef, Interp, ParserObj
from vllm_static.source import GenError, Source

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "sparkpilot" / "knowledge" / "vllm_flags"

# vLLM versions we generate, and why: the ones NGC's vLLM containers ship (25.10, 26.01, 26.03,
# 26.04, 26.05, 26.06, 26.10; see NGC below), 0.25.1 (the release before the 0.25.2.dev0 build of the
# real GB10 logs in shared/data), and 0.33.0 (the newest on PyPI when generated).
DEFAULT_VERSIONS = ["0.10.2", "0.11.1", "0.17.1", "0.19.0", "0.20.1", "0.22.1", "0.25.1", "0.31.0", "0.33.0"]

# NGC vLLM container tag -> vLLM version it ships, with the public source that says so.
NGC = {
    "25.10": ("0.10.2", "https://docs.nvidia.com/deeplearning/frameworks/vllm-release-notes/rel-25-10.html"),
    "26.01": ("0.11.1", "https://docs.nvidia.com/deeplearning/frameworks/vllm-release-notes/rel-26-01.html"),
    "26.03": ("0.17.1", "https://docs.nvidia.com/deeplearning/frameworks/vllm-release-notes/rel-26-03.html"),
    "26.04": ("0.19.0", "public deployment notes: 'nvcr.io/nvidia/vllm:26.04-py3 (engine 0.19.0+...nv26.04)'"),
    "26.05": ("0.20.1", "https://docs.nvidia.com/deeplearning/frameworks/vllm-release-notes/rel-26-05.html"),
    "26.06": ("0.22.1", "public deployment notes: NGC tag table '26.06-py3 | 0.22.1'"),
    "26.10": ("0.31.0", "https://docs.nvidia.com/deeplearning/frameworks/vllm-release-notes/rel-26-10.html"),
}



# ---------------------------------------------------------------- driving one version
def detect_features(src: Source) -> set[str]:
    feats = set()
    arg_utils = src.path_of("vllm.engine.arg_utils")
    text = arg_utils.read_text(encoding="utf-8") if arg_utils else ""
    if "type_hints == {bool, str, type(None)}" in text:
        feats.add("bool_str_optional")
    if "is_dict_subclass" in text:
        feats.add("dict_subclass")
    return feats


def parser_features(src: Source) -> dict:
    p = src.path_of("vllm.utils.argparse_utils")
    text = p.read_text(encoding="utf-8") if p else ""
    return {
        "underscores_accepted": 'replace("_", "-")' in text,
        "dotted_json_keys": '"." in processed_arg' in text,
        "optimization_shorthand_O": 'startswith("-O")' in text,
        # -O3 / -O 3 / -O=3 become this flag (0.11: the compilation config's mode; later: --optimization-level)
        "O_shorthand_target": "--optimization-level" if '"--optimization-level"' in text
        else "--compilation-config" if "-O.mode" in text else None,
        "allow_abbrev": "allow_abbrev=False" not in text,
        "config_file_option": "--config" in text,
    }


def serve_entry(src: Source) -> tuple[FuncRef, ClassRef | None]:
    """The `subparser_init` of the serve subcommand (falls back to make_arg_parser)."""
    mod = "vllm.entrypoints.cli.serve"
    tree = src.module(mod)
    if tree is None:
        raise GenError("vllm/entrypoints/cli/serve.py not found")
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for f in node.body:
                if isinstance(f, ast.FunctionDef) and f.name == "subparser_init":
                    return FuncRef(f, mod, ClassRef(node, mod)), ClassRef(node, mod)
    raise GenError("serve subparser_init not found")


def generate(src: Source) -> tuple[dict, list[str], dict]:
    feats = detect_features(src)
    interp = Interp(src, feats)
    fn, cls = serve_entry(src)
    subparsers = ParserObj(interp.calls)
    interp.call_function(fn, [subparsers], {}, self_cls=cls)
    flags, positionals = to_flags(interp.calls, src.warnings)
    # argparse adds -h/--help to every parser (add_help=True is never turned off for serve)
    flags.setdefault("--help", {"takes_value": False, "nargs": None, "choices": None, "choices_strict": None,
                                "case_insensitive": None, "type": None, "dest": "help", "aliases": ["-h"],
                                "negatable": False, "repeatable": False, "deprecated": False, "field": None})
    return dict(sorted(flags.items())), positionals, parser_features(src)


def version_key(v: str) -> tuple:
    return tuple(int(x) if x.isdigit() else 0 for x in re.split(r"[.+-]", v)[:4])


def fetch_wheel(version: str, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"vllm-{version}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", f"vllm=={version}", "--no-deps",
                        "--only-binary", ":all:", "-d", str(cache), "-q"], check=True)
        found = sorted(cache.glob(f"vllm-{version}-*.whl"))
    if not found:
        raise GenError(f"no wheel for vllm=={version}")
    return found[0]


def unpack_wheel(wheel: Path, dest: Path) -> Path:
    if not (dest / "vllm" / "engine" / "arg_utils.py").exists():
        with zipfile.ZipFile(wheel) as z:
            for n in z.namelist():
                if n.startswith("vllm/") and n.endswith(".py"):
                    z.extract(n, dest)
    return dest


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_version(label: str, src: Source, source_note: dict, out: Path) -> dict:
    flags, positionals, pfeats = generate(src)
    ngc = [tag for tag, (v, _) in NGC.items() if v == label]
    data = {
        "vllm_version": label,
        "source": source_note,
        "ngc_containers": [f"nvcr.io/nvidia/vllm:{t}-py3" for t in ngc],
        "generated_by": "scripts/gen_vllm_flags.py (static reading of vLLM's source with ast)",
        "generated_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"),
        "command": "vllm serve",
        "positionals": positionals,
        "parser": pfeats,
        "files_read": sorted(src.files_read),
        "warnings": src.warnings,
        "flag_count": len(flags),
        "flags": flags,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{label}.json").write_text(dump_table(data), encoding="utf-8")
    return data


CORE_KEYS = ("takes_value", "choices", "dest", "aliases", "negatable")  # always written


def dump_table(data: dict) -> str:
    """The table as JSON with one flag per line (readable diffs); besides CORE_KEYS, fields that are
    null / false / empty are left out (a reader takes them as defaults): smaller, quicker to load."""
    head = {k: v for k, v in data.items() if k != "flags"}
    text = json.dumps(head, indent=1)[:-2] + ',\n "flags": {\n'
    rows = []
    for name, info in data["flags"].items():
        slim = {k: v for k, v in info.items() if k in CORE_KEYS or v not in (None, False, [], "")}
        rows.append(f"  {json.dumps(name)}: {json.dumps(slim, separators=(',', ':'))}")
    return text + ",\n".join(rows) + "\n }\n}\n"


def write_index(out: Path) -> None:
    versions = sorted((p.stem for p in out.glob("*.json") if p.stem != "index"), key=version_key)
    index = {
        "versions": versions,
        "ngc": {tag: {"vllm": v, "source": s} for tag, (v, s) in NGC.items()},
        "generated_by": "scripts/gen_vllm_flags.py",
    }
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--versions", nargs="+", default=DEFAULT_VERSIONS, help="vLLM versions from PyPI")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/sparkpilot-vllm-src"),
                    help="where wheels and unpacked sources go (never committed)")
    ap.add_argument("--src", type=Path, help="read this source tree (a dir holding vllm/) instead of PyPI")
    ap.add_argument("--label", help="version label for --src")
    ap.add_argument("--source-note", default="", help="where --src came from (image tag, git commit)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    try:
        if args.src:
            if not args.label:
                raise GenError("--src needs --label VERSION")
            note = {"kind": "source tree", "path": str(args.src), "note": args.source_note}
            data = write_version(args.label, Source(args.src), note, args.out)
            print(f"{args.label}: {data['flag_count']} flags, {len(data['warnings'])} warnings")
        else:
            for v in args.versions:
                wheel = fetch_wheel(v, args.cache)
                tree = unpack_wheel(wheel, args.cache / v)
                note = {"kind": "PyPI wheel", "package": f"vllm=={v}", "file": wheel.name,
                        "sha256": sha256(wheel)}
                data = write_version(v, Source(tree), note, args.out)
                print(f"{v}: {data['flag_count']} flags, {len(data['warnings'])} warnings")
                for w in data["warnings"]:
                    print(f"   warning: {w}")
        write_index(args.out)
    except (GenError, subprocess.CalledProcessError) as exc:
        print(f"gen_vllm_flags: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
