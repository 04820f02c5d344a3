"""The generated `vllm serve` flag tables (scripts/gen_vllm_flags.py) and their lookup API.

Facts checked here come from vLLM's source of each version (the table records the wheel and its
sha256) and from real launches and logs in ../shared/data (copied under tests/data/vllm_flags with
their sources).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sparkpilot.vllm import flags

DATA = Path(__file__).resolve().parent.parent / "data" / "vllm_flags"
OLD, NGC_2604, NEW = "0.11.1", "0.19.0", "0.33.0"


def test_at_least_two_versions_with_their_sources_recorded():
    vs = flags.versions()
    assert len(vs) >= 2 and OLD in vs and NGC_2604 in vs
    for v in vs:
        meta = flags.meta(v)
        assert meta["vllm_version"] == v
        assert meta["source"]["package"] == f"vllm=={v}"
        assert re.fullmatch(r"[0-9a-f]{64}", meta["source"]["sha256"])
        assert meta["generated_by"].startswith("scripts/gen_vllm_flags.py")
        assert "vllm/engine/arg_utils.py" in meta["files_read"]
        assert meta["warnings"] == []  # every add_argument call was resolved


def test_new_flags_absent_in_old_version_present_in_new():
    for name in ("--moe-backend", "--attention-backend"):
        assert flags.lookup(name, OLD) is None
        assert flags.lookup(name, NGC_2604) is not None
        assert flags.lookup(name, NEW) is not None
    # --max-cudagraph-capture-size came in 0.11 already
    for v in (OLD, NGC_2604, NEW):
        info = flags.lookup("--max-cudagraph-capture-size", v)
        assert info is not None and info.takes_value and info.type == "int"
    assert flags.versions_with("--moe-backend")[0] == "0.17.1"


def test_removed_flag_is_gone():
    # the structured-output guided-decoding flags were deprecated in 0.11 and removed after
    assert flags.lookup("--guided-decoding-backend", OLD).deprecated
    assert flags.lookup("--guided-decoding-backend", NGC_2604) is None


def test_choices_hold_real_values():
    kv = flags.lookup("--kv-cache-dtype", NGC_2604)
    assert {"auto", "fp8", "fp8_e4m3", "fp8_e5m2"} <= set(kv.choices) and kv.choices_strict
    assert not kv.accepts("fp4")
    attn = flags.lookup("--attention-backend", NGC_2604)
    assert {"TRITON_ATTN", "FLASHINFER", "FLASH_ATTN"} <= set(attn.choices)
    assert attn.case_insensitive and attn.accepts("triton_attn") and not attn.accepts("NOPE")
    moe = flags.lookup("--moe-backend", NGC_2604)
    assert {"marlin", "triton", "cutlass", "flashinfer_cutlass", "auto"} <= set(moe.choices)
    assert moe.accepts("MARLIN") and moe.accepts("flashinfer-cutlass")  # vLLM lower()s and maps - to _
    quant = flags.lookup("--quantization", NGC_2604)
    assert {"gptq", "gptq_marlin", "awq", "awq_marlin", "mxfp4", "modelopt_fp4"} <= set(quant.choices)
    assert quant.choices_strict is False  # argparse takes any string; vLLM checks later
    assert "fastsafetensors" in flags.lookup("--load-format", NGC_2604).choices
    assert set(flags.lookup("--distributed-executor-backend", NGC_2604).choices) >= {"ray", "mp"}


def test_boolean_flags_and_negation():
    for v in (OLD, NGC_2604, NEW):
        eager = flags.lookup("--enforce-eager", v)
        assert eager.takes_value is False and eager.negatable
        r = flags.resolve("--no-enable-prefix-caching", v)
        assert r.info.name == "--enable-prefix-caching" and r.negated
    assert flags.lookup("--headless", NGC_2604).takes_value is False
    assert not flags.lookup("--headless", NGC_2604).negatable  # store_true: no --no-headless
    assert flags.lookup("--no-headless", NGC_2604) is None
    assert flags.lookup("--no-tensor-parallel-size", NGC_2604) is None


def test_short_aliases_underscores_dotted_and_O():
    tp = flags.resolve("-tp", NGC_2604)
    assert tp.info.name == "--tensor-parallel-size" and tp.via == "alias" and tp.info.dest == "tensor_parallel_size"
    assert flags.lookup("-pp", NGC_2604).name == "--pipeline-parallel-size"
    assert flags.lookup("-q", NGC_2604).name == "--quantization"
    assert flags.aliases(NGC_2604)["-dp"] == "--data-parallel-size"
    assert "-O" in flags.aliases(OLD) and "-O" not in flags.aliases(NGC_2604)
    assert flags.resolve("--max_model_len", NGC_2604).via == "underscore"
    r = flags.resolve("--gpu-memory-utilization=0.85", NGC_2604)
    assert r.info.name == "--gpu-memory-utilization" and r.inline_value == "0.85"
    r = flags.resolve("--compilation-config.cudagraph_mode", NGC_2604)
    assert r.via == "dotted" and r.sub_key == "cudagraph_mode"
    assert flags.lookup("--max-model-len.x", NGC_2604) is None  # not a JSON flag
    # -O3: the optimisation level from 0.17 on, the compilation config's mode in 0.11
    assert flags.resolve("-O3", NGC_2604).info.name == "--optimization-level"
    assert flags.resolve("-O3", OLD).info.name == "--compilation-config"


def test_value_shapes():
    assert flags.lookup("--served-model-name", NGC_2604).multiple
    assert flags.lookup("--cudagraph-capture-sizes", NGC_2604).multiple
    hf = flags.lookup("--hf-token", NGC_2604)
    assert hf.takes_value and hf.value_optional
    assert flags.lookup("--middleware", NGC_2604).repeatable


def test_suggest():
    assert flags.suggest("--enforce-eagr", NGC_2604)[0] == "--enforce-eager"
    assert flags.suggest("--tensor_paralel_size", NGC_2604)[0] == "--tensor-parallel-size"
    assert "--moe-backend" in flags.suggest("--moe-backnd", NGC_2604)


def test_versions_and_stacks():
    assert flags.table_version(None) == flags.versions()[-1]
    assert flags.table_version("0.19.0") == "0.19.0"
    assert flags.table_version("0.23.0") == "0.22.1"  # newest table not newer than it
    assert flags.table_version("0.9.0") == flags.versions()[0]  # older than all: the oldest
    assert flags.table_version("v0.19.0") == "0.19.0"
    with pytest.raises(LookupError):
        flags.table_version("latest")
    assert flags.version_for_stack("nvcr.io/nvidia/vllm:26.03-py3") == "0.17.1"
    assert flags.version_for_stack("ngc-26.04") == "0.19.0"
    assert flags.version_for_stack("vllm/vllm-openai:v0.20.1") == "0.20.1"
    assert flags.version_for_stack("vllm-node") is None
    assert flags.load("ngc-26.04") is flags.load("0.19.0")
    assert flags.load("nvcr.io/nvidia/vllm:26.03-py3") is flags.load("0.17.1")
    with pytest.raises(LookupError):
        flags.load("vllm-node")  # a source build: the caller picks the table


def _dests_in_log(line: str) -> list[str]:
    body = line.split("non-default args: ", 1)[1]
    depth, keys, i = 0, [], 0
    for m in re.finditer(r"[{}\[\]()]|'([a-z0-9_]+)': ", body):
        tok = m.group(0)
        if tok in "{[(":
            depth += 1
        elif tok in "}])":
            depth -= 1
        elif depth == 1:
            keys.append(m.group(1))
        i += 1
    return keys


def test_real_log_dests_match_table():
    """vLLM 0.25.2.dev0 logs its parsed args by dest: every one is a dest of the 0.25.1 table."""
    cases = json.loads((DATA / "non_default_args.json").read_text())
    assert cases
    for case in cases:
        dests = {f.dest for f in flags.load(case["table"]).values()} | set(flags.meta(case["table"])["positionals"])
        keys = _dests_in_log(case["line"])
        assert len(keys) > 20
        assert [k for k in keys if k not in dests] == []
        # the 0.11.1 table lacks some of them (added later): the tables differ for real
        old = {f.dest for f in flags.load(OLD).values()}
        assert [k for k in keys if k not in old]


def _vllm_flags(command: str) -> list[str]:
    """Option words after `vllm serve` / the api_server module in a real launch (placeholders kept)."""
    m = re.search(r"vllm serve|vllm\.entrypoints\.openai\.api_server", command)
    words = command[m.end():].replace("\\\n", " ").split() if m else []
    out = []
    for w in words:
        w = w.strip("\"'")
        if w in ("&&", ";", "|") or w.startswith("$(") or w == "'":
            break
        if re.match(r"--?[A-Za-z]", w):
            out.append(w.split("=", 1)[0])
    return out


def test_real_launch_flags_are_known():
    """Every flag of the real Spark launches exists in the NGC 26.04 table, except the two of the
    MXFP4 fork that eugr's `--exp-mxfp4` build adds (not in any upstream vLLM)."""
    cases = json.loads((DATA / "launches.json").read_text())
    fork_only = {"--mxfp4-backend", "--mxfp4-layers"}
    seen: set[str] = set()
    for case in cases:
        for tok in _vllm_flags(case["command"]):
            seen.add(tok)
            if tok in fork_only:
                assert flags.lookup(tok, NGC_2604) is None
                assert flags.versions_with(tok) == []
            else:
                assert flags.lookup(tok, NGC_2604) is not None, (case["copied_from"], tok)
    assert len(seen) > 30
    assert {"--moe-backend", "--attention-backend", "--gpu-memory-utilization", "--load-format"} <= seen
    assert fork_only <= seen


def test_module_is_light():
    """flags is on the lint path: it must not pull in heavy modules."""
    code = ("import sys; from sparkpilot.vllm import flags; flags.load(); "
            "print(','.join(m for m in ('yaml','difflib','argparse','rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ---------------------------------------------------------------- the generator's static reader
# A small source tree in the shapes vLLM uses (config dataclasses with Literal/bool/list/enum
# fields, get_kwargs, argument groups, a loop over a kwargs table, class-method chains), written
# for this test: the generator must turn it into the right flags without importing it.
SCRIPTS = Path(__file__).resolve().parent.parent.parent / "scripts"

TREE = {
    "vllm/__init__.py": "",
    "vllm/quant.py": 'from typing import Literal\nQuantMethods = Literal["awq", "gptq"]\n',
    "vllm/config/__init__.py": "from vllm.config.cache import CacheConfig\n",
    "vllm/config/cache.py": '''
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Literal
from pydantic import field_validator
CacheDType = Literal["auto", "fp8"]
if TYPE_CHECKING:
    from vllm.quant import QuantMethods
else:
    QuantMethods = str
class Backend(Enum):
    FOO = "x"
    BAR = "y"
@dataclass
class CacheConfig:
    cache_dtype: CacheDType = "auto"
    enable_prefix_caching: bool | None = None
    sizes: list[int] | None = None
    quantization: QuantMethods | None = None
    backend: Backend | None = None
    mem: float = 0.9
    @field_validator("backend", mode="before")
    def _backend(cls, value):
        return Backend[value.upper()]
''',
    "vllm/engine/arg_utils.py": '''
import argparse
from dataclasses import dataclass
from vllm.config import CacheConfig
def get_kwargs(cls):
    return {}
@dataclass
class EngineArgs:
    @staticmethod
    def add_cli_args(parser):
        kw = get_kwargs(CacheConfig)
        group = parser.add_argument_group(title="CacheConfig")
        group.add_argument("--kv-cache-dtype", **kw["cache_dtype"])
        group.add_argument("--enable-prefix-caching", **{**kw["enable_prefix_caching"], "default": None})
        group.add_argument("--sizes", "-s", **kw["sizes"])
        group.add_argument("--quantization", "-q", **kw["quantization"])
        backend = kw["backend"]
        backend["type"] = lambda s: s.lower()
        group.add_argument("--backend", **backend)
        group.add_argument("--mem", **kw["mem"])
        for arg, typ in [("--old-a", str), ("--old-b", int)]:
            group.add_argument(arg, type=typ, deprecated=True)
        parser.add_argument("--quiet", action="store_true")
        return parser
@dataclass
class AsyncEngineArgs(EngineArgs):
    @staticmethod
    def add_cli_args(parser, async_args_only: bool = False):
        if not async_args_only:
            parser = EngineArgs.add_cli_args(parser)
        parser.add_argument("--log-requests", action=argparse.BooleanOptionalAction)
        return parser
''',
    "vllm/entrypoints/openai/cli_args.py": '''
from dataclasses import dataclass, field
from vllm.engine.arg_utils import AsyncEngineArgs
@dataclass
class FrontendArgs:
    host: str | None = None
    port: int = 8000
    api_key: list[str] | None = None
    @classmethod
    def _customize(cls, kwargs):
        kwargs["port"]["flags"] = ["-p"]
        return kwargs
    @classmethod
    def add_cli_args(cls, parser):
        from vllm.engine.arg_utils import get_kwargs
        kwargs = cls._customize(get_kwargs(cls))
        for key, value in kwargs.items():
            extra = value.pop("flags", [])
            parser.add_argument(*extra, f"--{key.replace('_', '-')}", **value)
        return parser
def make_arg_parser(parser):
    parser.add_argument("model_tag", nargs="?")
    parser.add_argument("--headless", action="store_true")
    parser = FrontendArgs.add_cli_args(parser)
    parser = AsyncEngineArgs.add_cli_args(parser)
    return parser
''',
    "vllm/entrypoints/cli/serve.py": '''
from vllm.entrypoints.openai.cli_args import make_arg_parser
class ServeSubcommand:
    def subparser_init(self, subparsers):
        serve_parser = subparsers.add_parser("serve")
        serve_parser = make_arg_parser(serve_parser)
        serve_parser.add_argument("--grpc", action="store_true")
        return serve_parser
''',
}


def test_generator_reads_a_source_tree(tmp_path):
    for rel, text in TREE.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    sys.path.insert(0, str(SCRIPTS))
    try:
        import gen_vllm_flags
        from vllm_static.source import Source

        src = Source(tmp_path)
        table, positionals, _ = gen_vllm_flags.generate(src)
    finally:
        sys.path.remove(str(SCRIPTS))
    assert src.warnings == []
    assert positionals == ["model_tag"]
    assert set(table) == {"--kv-cache-dtype", "--enable-prefix-caching", "--sizes", "--quantization", "--backend",
                          "--mem", "--old-a", "--old-b", "--quiet", "--log-requests", "--host", "--port",
                          "--api-key", "--headless", "--grpc", "--help"}
    assert table["--kv-cache-dtype"]["choices"] == ["auto", "fp8"] and table["--kv-cache-dtype"]["choices_strict"]
    assert table["--enable-prefix-caching"]["negatable"] and not table["--enable-prefix-caching"]["takes_value"]
    assert table["--sizes"]["nargs"] == "+" and table["--sizes"]["aliases"] == ["-s"]
    assert table["--sizes"]["type"] == "int"
    q = table["--quantization"]  # Literal only for type checkers: known values, not enforced
    assert q["choices"] == ["awq", "gptq"] and q["choices_strict"] is False and q["aliases"] == ["-q"]
    b = table["--backend"]  # enum parsed by name, upper-cased by the validator
    assert b["choices"] == ["auto", "FOO", "BAR"] and b["case_insensitive"]
    assert table["--mem"]["type"] == "float"
    assert table["--old-a"]["deprecated"] and table["--old-b"]["type"] == "int"
    assert table["--quiet"]["takes_value"] is False and not table["--quiet"]["negatable"]
    assert table["--log-requests"]["negatable"]
    assert table["--port"]["aliases"] == ["-p"] and table["--port"]["type"] == "int"
    assert table["--api-key"]["nargs"] == "+"
    assert table["--host"]["dest"] == "host" and table["--kv-cache-dtype"]["dest"] == "kv_cache_dtype"


def test_abbreviation_vllm_itself_prints():
    """vLLM's own start-up hint says `--kv-cache-memory=N`: no such flag, but argparse's allow_abbrev
    accepts it as the unique prefix of --kv-cache-memory-bytes (real log line, see the JSON's source)."""
    case = json.loads((DATA / "kv_cache_memory_hint.json").read_text())
    written = re.search(r"`(--kv-cache-memory)=\d+`", case["line"]).group(1)
    assert flags.lookup(written, NGC_2604) is None
    assert flags.meta(NGC_2604)["parser"]["allow_abbrev"]
    assert flags.abbreviation(written, NGC_2604).name == "--kv-cache-memory-bytes"
    assert flags.abbreviation("--max", NGC_2604) is None  # ambiguous prefix: argparse refuses it
