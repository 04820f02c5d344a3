"""The figures vLLM prints while it starts: weights, KV cache, concurrency, graphs, versions, args.

Each `@figure(regex)` function reads one kind of line (formats from real logs in tests/data/logs,
../shared/data and vLLM's source) into the figures dict; `finish_figures` derives GB/s.
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Any

from sparkpilot.diagnosis.gate import Gate

def _num(text: str) -> float:
    return float(text.replace(",", ""))


FIGURES: list[tuple[re.Pattern[str], Any]] = []


def figure(rx: str):
    def deco(fn):
        FIGURES.append((re.compile(rx), fn))
        return fn
    return deco


@figure(r"(?:Model loading|Loading model weights) took ([\d.]+) ?(GiB|GB)(?: memory)?(?: and ([\d.]+) ?s)?")
def _weights(m, f):
    f["weights_gib"] = _num(m[1])
    if m[3]:
        f["weights_load_seconds"] = round(_num(m[3]), 2)


@figure(r"Loading weights took ([\d.]+) seconds")
def _read_secs(m, f):
    f["weights_read_seconds"] = round(_num(m[1]), 2)


@figure(r"Time spent downloading weights for \S+: ([\d.]+) seconds")
def _download(m, f):
    f["weights_download_seconds"] = round(_num(m[1]), 2)


@figure(r"Checkpoint size: ([\d.]+) GiB")
def _ckpt(m, f):
    f["checkpoint_gib"] = _num(m[1])


@figure(r"Available KV cache memory: (-?[\d.]+) GiB")
def _kv_gib(m, f):
    f["available_kv_gib"] = _num(m[1])


@figure(r"kv_cache_size=(-?[\d.]+)GiB")
def _kv_gib_v0(m, f):
    f.setdefault("available_kv_gib", _num(m[1]))


@figure(r"reserved ([\d.]+) GiB memory for KV Cache")
def _kv_reserved(m, f):
    f.setdefault("available_kv_gib", _num(m[1]))


@figure(r"the rest of the memory reserved for KV Cache is (-?[\d.]+) ?GiB")
def _kv_rest(m, f):
    f.setdefault("available_kv_gib", _num(m[1]))


@figure(r"larger than the available KV cache memory \((-?[\d.]+) GiB\)")
def _kv_needed(m, f):
    f.setdefault("available_kv_gib", _num(m[1]))


@figure(r"the estimated maximum model length is (\d+)")
def _est_mml(m, f):
    f["estimated_max_model_len"] = int(m[1])


@figure(r"model weights take ([\d.]+) ?GiB")
def _weights_take(m, f):
    f.setdefault("weights_gib", _num(m[1]))


@figure(r"CUDA graph pool memory: (-?[\d.]+) GiB \(actual\)")
def _graph_pool(m, f):
    f.setdefault("graph_capture_gib", _num(m[1]))


@figure(r"Free memory on device \(([\d.]+)/([\d.]+) GiB\) on startup")
def _free(m, f):
    f["free_memory_at_start_gib"] = _num(m[1])
    f["total_memory_gib"] = _num(m[2])


@figure(r"GPU KV cache size: ([\d,]+) tokens")
def _kv_tokens(m, f):
    f["kv_cache_tokens"] = int(_num(m[1]))


@figure(r"# (?i:GPU|cuda) blocks: (\d+)")
def _blocks(m, f):
    f["gpu_blocks"] = int(m[1])


@figure(r"maximum number of tokens that can be stored in KV cache \((\d+)\)")
def _kv_tokens_v0(m, f):
    f.setdefault("kv_cache_tokens", int(m[1]))


@figure(r"Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x")
def _conc(m, f):
    f["max_concurrency"] = _num(m[2])
    f["max_concurrency_tokens_per_request"] = int(_num(m[1]))


@figure(r"Graph capturing finished in ([\d.]+) secs?(?:, took (-?[\d.]+) GiB)?")
def _graph(m, f):
    f["graph_capture_seconds"] = _num(m[1])
    if m[2]:
        f["graph_capture_gib"] = _num(m[2])


@figure(r"init engine (?:\(profile, create kv cache, warmup model\) )?took ([\d.]+) s")
def _init(m, f):
    f["init_engine_seconds"] = _num(m[1])


@figure(r"torch\.compile takes ([\d.]+) s in total")
def _compile(m, f):
    f["torch_compile_seconds"] = _num(m[1])


@figure(r"(?:█\s+version|vLLM API server version|LLM engine \(v|^vLLM Version) ?(\d+\.\d+\.\d+[\w.+\-]*)")
def _version(m, f):
    f.setdefault("vllm_version", m[1].rstrip(")"))


@figure(r"^NVIDIA Release ([\d.]+)")
def _image(m, f):
    f["ngc_release"] = m[1]


@figure(r"kernel driver version (\d+(?:\.\d+)+)")
def _driver(m, f):
    f["driver_version"] = m[1]


@figure(r"Using CUDA ([\d.]+) driver version ([\d.]+)")
def _cuda(m, f):
    f["cuda_version"] = m[1]
    f["compat_driver_version"] = m[2].rstrip(".")  # the container's forward-compatibility driver


@figure(r"(?:NCCL version (\d[\w.+]*)|vLLM is using nccl==([\d.]+))")
def _nccl(m, f):
    f.setdefault("nccl_version", m[1] or m[2])


@figure(r"Resolved architecture: (\w+)")
def _arch(m, f):
    f["architecture"] = m[1]


@figure(r"Using max model len (\d+)")
def _mml(m, f):
    f["max_model_len"] = int(m[1])


@figure(r"model\s{2,}(\S+)\s*$")
def _banner_model(m, f):
    f.setdefault("model", m[1])


@figure(r"non-default args: (\{.*)")
def _args(m, f):
    args = parse_args_dict(m[1])
    if args:
        f["non_default_args"] = args
        if "model" in args:
            f["model"] = args["model"]


@functools.cache
def _figure_gate() -> Gate:
    return Gate(rx for rx, _ in FIGURES)


def extract_figures(text: str, figures: dict[str, Any]) -> None:
    if not text:
        return
    if not _figure_gate().may_match(text):
        return
    for rx, fn in FIGURES:
        m = rx.search(text)
        if m:
            try:
                fn(m, figures)
            except (ValueError, IndexError, TypeError):
                pass


def finish_figures(figures: dict[str, Any]) -> dict[str, Any]:
    """GB/s of the weight load: the read time when vLLM printed it, else the load time less any download."""
    gib = figures.get("weights_gib")
    secs = figures.get("weights_read_seconds")
    if not secs and figures.get("weights_load_seconds"):
        secs = figures["weights_load_seconds"] - figures.get("weights_download_seconds", 0.0)
    if gib and secs and secs > 0:
        figures["weights_load_gb_per_s"] = round(gib * 1.073741824 / secs, 2)
    return figures


def parse_args_dict(text: str) -> dict[str, Any]:
    """Parse vLLM's `non-default args: {...}` (a repr that may hold objects, and may be truncated)."""
    items: dict[str, Any] = {}
    depth, quote, start = 0, "", 1
    body = text.strip()
    if not body.startswith("{"):
        return items
    parts: list[str] = []
    for i, ch in enumerate(body):
        if quote:
            if ch == quote and body[i - 1] != "\\":
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
            if depth == 0:
                parts.append(body[start:i])
                break
        elif ch == "," and depth == 1:
            parts.append(body[start:i])
            start = i + 1
    else:
        parts.append(body[start:])  # truncated: keep what is complete
    for part in parts:
        key, sep, value = part.partition(":")
        key, value = key.strip().strip("'\""), value.strip()
        if not sep or not key.isidentifier():
            continue
        try:
            items[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            items[key] = value
    return items
