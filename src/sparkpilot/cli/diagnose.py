"""`sparkpilot diagnose`: explain a vLLM start-up log (phases, figures, failure and fix).

    sparkpilot diagnose vllm.log                 # a file ("-" or nothing on a pipe: stdin)
    sparkpilot diagnose head.log worker.log      # several logs of one multi-node start, merged by time
    sparkpilot diagnose --container vllm [--host user@spark-1 --host user@spark-2]
    sparkpilot diagnose vllm.log --answer "..."  # also judge the smoke test's answer (garbage output)
    nvidia-smi | sparkpilot diagnose -          # a host tool's output: says which tool, judges it

Exit codes: 0 ready; 1 failed, or incomplete (the log stops before the server is ready: not a
success); 2 bad input (missing or unreadable file, no such container, malformed host).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from typing import Any

from sparkpilot.cli.common import add_format, print_json
from sparkpilot.errors import EXIT_FINDINGS, EXIT_OK, UsageError

DOCKER_LOGS_TIMEOUT = 60.0
SECRET_KEY_RE = re.compile(r"(?:^|_)(?:token|secret|password|api_key|key)s?$", re.IGNORECASE)


EXAMPLES = """\
  sparkpilot diagnose vllm.log
  docker logs vllm 2>&1 | sparkpilot diagnose -
  sparkpilot diagnose --container sparkpilot-vllm --host user@spark-1 --host user@spark-2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logs", nargs="*", metavar="LOG",
                        help="log file(s); several files are one multi-node start; '-' reads stdin")
    parser.add_argument("--container", metavar="NAME", help="read `docker logs NAME` instead of a file")
    parser.add_argument("--host", action="append", default=[], metavar="HOST",
                        help="with --container: the node(s) to read it on over SSH (repeatable; default local)")
    parser.add_argument("--answer", metavar="TEXT",
                        help="the smoke test's answer text: garbage output is reported as cutlass_fp4_garbage")
    add_format(parser)


# ----------------------------------------------------------------------------- input
def _read_file(path: str) -> str:
    if path == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="replace")
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a log file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def container_logs(name: str, host: str | None) -> tuple[str, bool | None]:
    """(the container's log, whether it still runs) through the transport (launcher/containers.py)."""
    from sparkpilot.launcher.containers import DockerError, read_logs
    from sparkpilot.transport import connect

    where = f" on {host}" if host else ""
    with connect(host or "local") as runner:
        try:
            logs = read_logs(runner, name, timeout=DOCKER_LOGS_TIMEOUT)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        except DockerError as exc:
            if exc.missing:
                raise UsageError(f"docker is not available{where}: {exc}") from None
            raise UsageError(f"docker logs {name}{where}: {exc}") from None
    return logs.text, logs.running


def gather(args: argparse.Namespace) -> tuple[list[tuple[str, str]], dict[str, bool | None]]:
    """[(label, log text)] and, for containers, whether each still runs (by label)."""
    if args.container and args.logs:
        raise UsageError("give log files or --container, not both")
    if args.host and not args.container:
        raise UsageError("--host needs --container NAME (the logs are read with `docker logs` on that host)")
    if args.container:
        got = {h or "local": container_logs(args.container, h) for h in args.host or [None]}
        return [(label, text) for label, (text, _) in got.items()], {label: run for label, (_, run) in got.items()}
    paths = args.logs or ["-"]
    if paths == ["-"] and sys.stdin.isatty():
        raise UsageError("no log given: pass a file, pipe one in, or use --container NAME")
    if paths.count("-") > 1:
        raise UsageError("stdin ('-') can be read only once")
    names = [os.path.basename(p) for p in paths]
    if len(set(names)) < len(names):  # head/service.log and worker/service.log: keep the folders
        names = list(paths)
    return [(n if p != "-" else "stdin", _read_file(p)) for n, p in zip(names, paths, strict=False)], {}


# ----------------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> int:
    from sparkpilot.diagnosis import LiveDiagnosis, check_answer, merge
    from sparkpilot.diagnosis.analyze import REFERENCE_PHASE_SECONDS, time_scale

    logs, running = gather(args)
    if not any(text.strip() for _, text in logs) and args.answer is None:
        raise UsageError("the log is empty")
    if len(logs) == 1 and not args.container and args.answer is None:
        pasted = _pasted(logs[0][1])
        if pasted is not None:
            if args.format == "json":
                print_json(mask({"outcome": None, "pasted": pasted.to_dict()}))
            else:
                from sparkpilot.diagnosis.pasted import render as render_paste

                print(mask(render_paste(pasted)))
            return EXIT_FINDINGS if pasted.failed else EXIT_OK
    live = LiveDiagnosis()
    if len(logs) == 1:
        live.feed(logs[0][1])
    else:
        live.source_order = [label for label, _ in logs]
        for line in merge(logs):
            live.count += 1
            live.feed_line(line)
    hang = None
    if args.container and all(running.get(label) for label, _ in logs):
        expected = {k: v * time_scale() for k, v in REFERENCE_PHASE_SECONDS.items()}
        hang = live.check_hang(now=time.time(), expected_phase_seconds=expected)
    d = live.result()
    if d.outcome == "incomplete" and not d.phases and not d.figures and not live.logged:
        what = "the container's output" if args.container else "the input"
        raise UsageError(f"{what} holds no vLLM log line (no level, time, phase or known error)")
    if hang is not None and hang.failure is None and d.outcome == "incomplete":
        d.notes.append(hang.message + " (expected from the reference's start-up table)")
    if args.answer is not None:
        garbage = check_answer(args.answer)
        if garbage is not None and (d.failure is None or d.failure.cls == "unrecognised"):
            d.failure, d.outcome = garbage, "failed"
    data = d.to_dict()
    if args.format == "json":
        print_json(mask(data))
    else:
        print(render(data))
    return EXIT_OK if d.outcome == "ready" else EXIT_FINDINGS


VLLM_LINE_RE = re.compile(r"(?:INFO|WARNING|ERROR|DEBUG) \d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def _pasted(text: str):
    """A host tool's output (nvidia-smi, ip, ibv_devinfo, ib_write_bw, nccl-tests, ...), not a vLLM log."""
    if VLLM_LINE_RE.search(text):
        return None  # a vLLM log (NCCL lines inside it are judged as part of the log)
    from sparkpilot.diagnosis import diagnose
    from sparkpilot.diagnosis.pasted import recognise

    found = recognise(text)
    if found is not None:
        failure = diagnose(text).failure
        if failure is not None and failure.cls != "unrecognised":
            return None  # a known failure in it (NCCL WARN lines beside the init lines): read it as a log
    return found


def mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, key) for v in value]
    if isinstance(value, str):
        if key and SECRET_KEY_RE.search(key):
            return "****"
        from sparkpilot.secrets import mask_secrets

        return mask_secrets(value)
    return value


# ----------------------------------------------------------------------------- text
def _kind(name: str) -> str:
    try:
        from sparkpilot import knowledge

        found = knowledge.find(name)
    except Exception:  # noqa: BLE001 - a broken sibling file must not break diagnose
        found = None
    if not found:
        return name
    return f"{name} ({'lint' if found[0] == 'rules' else 'doctor' if found[0] == 'checks' else found[0]})"


def _args_text(args: dict[str, Any]) -> str:
    parts = []
    for key, value in args.items():
        if key in ("model_tag",):
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif isinstance(value, (list, tuple)):
            parts.append(f"{flag} {' '.join(str(v) for v in value)}")
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def _figures_rows(f: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if f.get("vllm_version"):
        rows.append(("vLLM version", str(f["vllm_version"])))
    for key, label in (("ngc_release", "NGC release"), ("driver_version", "driver"),
                       ("compat_driver_version", "CUDA compat driver"), ("nccl_version", "NCCL"),
                       ("model", "model"), ("architecture", "architecture"), ("max_model_len", "max model len")):
        if f.get(key) is not None:
            rows.append((label, str(f[key])))
    if f.get("free_memory_at_start_gib") is not None:
        rows.append(("free at start", f"{f['free_memory_at_start_gib']} of {f.get('total_memory_gib')} GiB"))
    if f.get("weights_gib") is not None:
        text = f"{f['weights_gib']} GiB"
        if f.get("weights_load_seconds"):
            text += f" in {f['weights_load_seconds']} s"
        parts = []
        if f.get("weights_download_seconds"):
            parts.append(f"{f['weights_download_seconds']} s downloading")
        if f.get("weights_read_seconds"):
            parts.append(f"{f['weights_read_seconds']} s reading")
        if f.get("weights_load_gb_per_s"):
            parts.append(f"{f['weights_load_gb_per_s']} GB/s")
        if parts:
            text += f" ({', '.join(parts)})"
        rows.append(("weights", text))
    elif f.get("weights_download_seconds"):
        rows.append(("weights download", f"{f['weights_download_seconds']} s"))
    if f.get("available_kv_gib") is not None:
        rows.append(("available KV cache", f"{f['available_kv_gib']} GiB"))
    if f.get("kv_cache_tokens") is not None:
        rows.append(("KV cache tokens", f"{f['kv_cache_tokens']:,}"))
    if f.get("gpu_blocks") is not None:
        rows.append(("GPU blocks", str(f["gpu_blocks"])))
    if f.get("max_concurrency") is not None:
        rows.append(("max concurrency", f"{f['max_concurrency']}x at {f.get('max_concurrency_tokens_per_request', 0):,}"
                                        " tokens per request"))
    if f.get("torch_compile_seconds") is not None:
        rows.append(("torch.compile", f"{f['torch_compile_seconds']} s"))
    if f.get("graph_capture_seconds") is not None:
        text = f"{f['graph_capture_seconds']:g} s"
        if f.get("graph_capture_gib") is not None:
            text += f", {f['graph_capture_gib']} GiB"
        rows.append(("graph capture", text))
    if f.get("init_engine_seconds") is not None:
        rows.append(("engine init", f"{f['init_engine_seconds']} s"))
    for node, nf in (f.get("nodes") or {}).items():
        bits = []
        if nf.get("weights_gib") is not None:
            bits.append(f"weights {nf['weights_gib']} GiB" + (f" in {nf['weights_load_seconds']} s"
                                                             if nf.get("weights_load_seconds") else ""))
        if nf.get("graph_capture_gib") is not None:
            bits.append(f"graph {nf['graph_capture_gib']} GiB")
        if nf.get("available_kv_gib") is not None:
            bits.append(f"KV {nf['available_kv_gib']} GiB")
        if bits:
            rows.append((f"node {node}", ", ".join(bits)))
    if f.get("non_default_args"):
        rows.append(("non-default args", _args_text(f["non_default_args"])))
    return rows


def render(data: dict[str, Any]) -> str:
    data = mask(data)
    out = []
    outcome = data["outcome"]
    head = f"outcome: {outcome}"
    if outcome != "ready":
        head += f" (stopped in {data['stopped_in']})" if data.get("stopped_in") else " (no start-up phase seen)"
    out.append(head)
    failure = data.get("failure")
    if failure:
        out.append(f"failure: {failure['class']}" + (f" ({failure['id']})" if failure.get("id") else ""))
        out.append(f"  cause: {failure['message']}")
        evidence = failure.get("evidence") or ([failure["line"]] if failure.get("line") else [])
        if evidence:
            out.append("  evidence:")
            out.extend(f"    {line}" for line in evidence)
        out.append(f"  fix: {failure['fix']}")
        if failure.get("prevented_by"):
            out.append("  prevented by: " + ", ".join(_kind(n) for n in failure["prevented_by"]))
        out.append(f"  more: sparkpilot explain {failure['class']}")
    elif outcome == "incomplete":
        out.append("  the log stops before the server is ready and shows no error: the start may still be "
                   "running, or the log was cut")
    if data["phases"]:
        out.append("phases:")
        out.append(f"  {'phase':<18} {'start':<20} {'end':<20} {'seconds':>8}")
        for p in data["phases"]:
            secs = f"{p['seconds']:.1f}" if p["seconds"] is not None else "-"
            out.append(f"  {p['name']:<18} {p['start'] or '-':<20} {p['end'] or '-':<20} {secs:>8}")
    rows = _figures_rows(data.get("figures") or {})
    if rows:
        out.append("figures:")
        width = max(len(k) for k, _ in rows)
        out.extend(f"  {k:<{width}}  {v}" for k, v in rows)
    for note in data.get("notes") or []:
        out.append(f"note: {note}")
    if len(data.get("sources") or []) > 1:
        out.append("logs merged: " + ", ".join(data["sources"]))
    return "\n".join(out)
