#!/usr/bin/env python3
"""How close `sparkpilot plan` comes to what vLLM really printed, beside sparkrun's estimate.

For every case in bench/data/memory/ (real vLLM logs with their public sources; see
bench/data/plan_cases.json for how each is replayed) the planner runs with the case's settings
(--memory-gib from the GPU's total as CUDA reports it, or a GB10; --nodes counting GPUs) and we
compare, per GPU:
  weights   "Model loading took X GiB" (or V0's "model weights take X GiB")
  KV tokens "GPU KV cache size: N tokens" (V0: GPU blocks x block size)
  fit       did vLLM start (KV cache > 0 and one request of max-model-len fits)?
sparkrun 0.4.2's `recipe vram` runs on the same cases with the model's parameters written into
each recipe (offline, --no-auto-detect); its KV tokens come from the same estimator given the
same total memory (the CLI does not take one).

    python bench/plan_accuracy.py [--sparkrun PATH/TO/sparkrun] [--json]

sparkrun lives in its own Python 3.12 venv:  python3.12 -m venv V && V/bin/pip install sparkrun==0.4.2
Without it the sparkrun columns say n/a.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from sparkpilot import models  # noqa: E402
from sparkpilot.errors import SparkpilotError  # noqa: E402
from sparkpilot.planner import PlanRequest, plan  # noqa: E402
from sparkpilot.planner.memory import GB10_CUDA_TOTAL_GIB, count_params, version_tuple  # noqa: E402

TARGETS = {"weights": (0.02, 0.05), "tokens": (0.08, 0.15)}


def load_cases(data: Path) -> list[dict]:
    cases = json.loads((data / "plan_cases.json").read_text())["cases"]
    for c in cases:
        c["memory"] = json.loads((data / "memory" / f"{c.get('memory_file', c['id'])}.json").read_text())
        if c.get("observed_override"):
            c["memory"] = {**c["memory"], "observed": c["observed_override"],
                           "gpu_memory_utilization": c.get("gpu_memory_utilization")}
    return cases


def model_info(spec: dict):
    """ModelInfo for a case (catalog entry, possibly re-quantised, or a config), or a reason."""
    from sparkpilot.models import registry

    if "config" in spec:
        info = models.from_config(spec["config"], model_id=spec["id"], weight_bytes=spec.get("weight_bytes"),
                                  sources={"config": spec["source"]})
    else:
        entry = None
        for mid in [spec["catalog"], *spec.get("alternatives", [])]:
            entry = registry.find_entry(mid)
            if entry:
                break
        if not entry:
            return None, f"{spec['catalog']} not in the catalog"
        wb = spec["weight_bytes"] if "weight_bytes" in spec else entry.get("weight_bytes")
        info = models.from_config(entry["config"], model_id=entry["id"], weight_bytes=wb,
                                  quant_config=spec.get("quant_config") or entry.get("quant_config"))
    if spec.get("dtype"):
        info.dtype = spec["dtype"]
    return info, None


def observed(c: dict) -> dict:
    o = c["memory"]["observed"]
    weights = next((o[k] for k in ("model_loading_gib", "weights_gib", "model_weights_gib", "model_loading_gb")
                    if o.get(k) is not None), None)
    tokens = o.get("kv_cache_tokens") or o.get("kv_capacity_tokens")
    if tokens is None and c["id"] == "006":  # reported in prose at utilisation 0.85
        tokens = None
    if tokens is None and o.get("gpu_blocks") and c.get("tokens") == "blocks":
        tokens = o["gpu_blocks"] * c.get("block_size", 16)
    kv = o.get("available_kv_cache_gib")
    fits = c.get("fits")
    if fits is None and kv is not None:
        fits = kv > 0 and not (o.get("kv_cache_needed_gib") and o["kv_cache_needed_gib"] > kv)
    return {"weights": weights, "tokens": tokens if c.get("tokens") else None, "kv_gib": kv, "fits": fits}


def request(c: dict, info) -> PlanRequest:
    m = c["memory"]
    flags = m.get("other_flags") or {}
    gpus = (m.get("tensor_parallel_size") or 1) * (m.get("pipeline_parallel_size") or 1)
    kv = c.get("kv_cache_dtype") or m.get("kv_cache_dtype") or "auto"
    return PlanRequest(
        model=info.id, nodes=gpus, tp=m.get("tensor_parallel_size") or 1, pp=m.get("pipeline_parallel_size") or 1,
        max_model_len=m.get("max_model_len") or info.max_position_embeddings,
        gpu_memory_utilization=m.get("gpu_memory_utilization") or c.get("gpu_memory_utilization") or 0.9,
        kv_cache_dtype=kv, max_num_seqs=flags.get("max_num_seqs"),
        max_num_batched_tokens=c.get("max_num_batched_tokens") or flags.get("max_num_batched_tokens"),
        memory_gib=c.get("memory_gib"),  # None: a GB10
        cudagraph_profiled=c.get("cudagraph_profiled"),
        vllm_version=c.get("vllm_version") or m.get("vllm_version"),
        speculative_tokens=speculative_tokens(c))


def speculative_tokens(c: dict) -> int:
    """MTP draft tokens of the case: its recorded --speculative-config, or the case's own value."""
    if c.get("speculative_tokens") is not None:
        return int(c["speculative_tokens"])
    spec = (c["memory"].get("other_flags") or {}).get("speculative_config")
    return int(spec.get("num_speculative_tokens") or 0) if isinstance(spec, dict) else 0


# --- sparkrun -------------------------------------------------------------------------------------

def sparkrun_dtype(info) -> str:
    q = (info.quantization or "").lower()
    if not q:
        return info.dtype or "bfloat16"
    if "fp8" in q:
        return "fp8"
    if "mxfp4" in q:
        return "mxfp4"
    if "nvfp4" in q or "fp4" in q:
        return "nvfp4"
    if q in ("awq", "gptq"):
        return q
    return "int4" if (info.quant_bits or 4) == 4 else "int8"


def sparkrun_recipe(info, req: PlanRequest) -> dict:
    counted = count_params(info)
    params = info.num_parameters or (counted.total if counted else None)
    meta = {"model_params": int(params or 0), "model_dtype": sparkrun_dtype(info),
            "num_layers": info.num_hidden_layers, "num_kv_heads": info.num_key_value_heads,
            "head_dim": info.head_dim, "model_type": info.model_type,
            "model_max_len": info.max_position_embeddings}
    mtp = info.num_mtp_layers if req.speculative_tokens else 0  # the drafter's KV layers, told as layers
    if mtp:
        meta["num_layers"] = (info.num_hidden_layers or 0) + mtp
    if info.num_linear_layers:
        meta["attention_layers"] = (info.num_full_layers or 0) + mtp
        if info.linear_state_bytes_per_seq:
            meta["recurrent_state_bytes"] = info.linear_state_bytes_per_seq * info.num_linear_layers
    if info.kv_lora_rank:
        meta["kv_lora_rank"] = info.kv_lora_rank
        meta["qk_rope_head_dim"] = info.qk_rope_head_dim
    defaults: dict[str, Any] = {"tensor_parallel": req.tp, "pipeline_parallel": req.pp, "max_model_len": req.max_model_len,
                "gpu_memory_utilization": req.gpu_memory_utilization}
    if req.kv_cache_dtype and req.kv_cache_dtype != "auto":
        defaults["kv_cache_dtype"] = req.kv_cache_dtype
    return {"model": info.id, "runtime": "vllm", "defaults": defaults, "command": "vllm serve {model}",
            "metadata": {k: v for k, v in meta.items() if v is not None}}


HELPER = r"""
import json, sys
from sparkrun.core.recipe import Recipe
out = {}
for path, total in json.load(sys.stdin):
    try:
        est = Recipe.load(path, offline=True).estimate_vram(auto_detect=False, total_gpu_memory_gb=total)
        out[path] = {"tokens": est.max_context_tokens, "available_kv_gb": est.available_kv_gb}
    except Exception as exc:
        out[path] = {"error": str(exc)[:200]}
print(json.dumps(out))
"""


def run_sparkrun(exe: str | None, jobs: list[tuple[str, dict, float, int | None]]) -> dict[str, dict]:
    """{case id: {"weights": GiB per GPU, "tokens": N, "fits": bool}} from sparkrun."""
    if not exe or not jobs:
        return {}
    import yaml

    out: dict[str, dict] = {}
    tmp = Path(tempfile.mkdtemp(prefix="sparkpilot-bench-"))
    try:
        paths = {}
        for cid, recipe, total, gpus in jobs:
            p = tmp / f"case-{cid}.yaml"
            p.write_text(yaml.safe_dump(recipe, sort_keys=False))
            paths[cid] = (str(p), total, gpus, recipe["defaults"]["max_model_len"])
            res = subprocess.run([exe, "-q", "recipe", "vram", str(p), "--no-auto-detect", "--json"],
                                 capture_output=True, text=True, timeout=120)
            try:
                est = json.loads(res.stdout[res.stdout.index("{"):])
                out[cid] = {"weights": est["model_weights_gb"] / gpus}
            except (ValueError, KeyError):
                out[cid] = {"error": (res.stderr or res.stdout).strip().splitlines()[-1:]}
        python = str(Path(exe).with_name("python"))
        res = subprocess.run([python, "-c", HELPER], input=json.dumps([(p, t) for p, t, _, _ in paths.values()]),
                             capture_output=True, text=True, timeout=300)
        try:
            kv = json.loads(res.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            kv = {}
        for cid, (path_text, _, _, mml) in paths.items():
            r = kv.get(path_text) or {}
            out.setdefault(cid, {})["tokens"] = r.get("tokens")
            if r.get("available_kv_gb") is not None:
                out[cid]["fits"] = bool(r["available_kv_gb"] > 0 and (r.get("tokens") or 0) >= (mml or 0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# --- report ---------------------------------------------------------------------------------------

def err(pred, obs):
    if pred is None or obs in (None, 0):
        return None
    return (pred - obs) / obs


def pct(x) -> str:
    return "   n/a" if x is None else f"{x * 100:+6.1f}%"


def quantile(values: list[float], q: float) -> float:
    xs = sorted(values)
    if not xs:
        return math.nan
    k = (len(xs) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(HERE / "data"))
    ap.add_argument("--sparkrun", default=os.environ.get("SPARKRUN") or shutil.which("sparkrun"),
                    help="sparkrun 0.4.2 executable in its venv (default: $SPARKRUN, else on PATH)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows, skipped, jobs = [], [], []
    for c in load_cases(Path(args.data)):
        if c.get("skip"):
            skipped.append((c["id"], c["skip"]))
            continue
        info, why = model_info(c["model"])
        if info is None:
            skipped.append((c["id"], why))
            continue
        req = request(c, info)
        try:
            p = plan(req, info)
        except SparkpilotError as exc:
            skipped.append((c["id"], f"planner refused: {exc}"))
            continue
        obs = observed(c)
        tokens = {"new": p.kv_cache_tokens, "legacy": p.kv_tokens_legacy, "blocks": p.kv_tokens_legacy}.get(c.get("tokens") or "")
        v = version_tuple(req.vllm_version)
        era = "v0" if c.get("engine") == "v0" else ("old" if v is not None and v < (0, 12) else "current")
        rows.append({"id": c["id"], "model": info.id, "gpus": req.nodes, "engine": c.get("engine"), "era": era,
                     "obs": obs, "weights": p.weights_gib_per_gpu, "tokens": tokens, "kv_gib": p.kv_cache_gib_per_gpu,
                     "fits": p.fits, "kv_need_gib": p.kv_need_gib, "note": c.get("note", ""),
                     "margin": (round((obs["kv_gib"] - p.kv_need_gib) / p.kv_need_gib, 3)
                                if obs["kv_gib"] is not None and p.kv_need_gib else None)})
        recipe = sparkrun_recipe(info, req)
        if c.get("sparkrun_dtype"):  # a mixed checkpoint the config alone does not describe
            recipe["metadata"]["model_dtype"] = c["sparkrun_dtype"]
        jobs.append((c["id"], recipe, req.memory_gib or GB10_CUDA_TOTAL_GIB, req.nodes))
    sr = run_sparkrun(args.sparkrun, jobs)
    for r in rows:
        s = sr.get(r["id"], {})
        r["sparkrun"] = s
        r["err"] = {"weights": err(r["weights"], r["obs"]["weights"]), "tokens": err(r["tokens"], r["obs"]["tokens"]),
                    "sr_weights": err(s.get("weights"), r["obs"]["weights"]),
                    "sr_tokens": err(s.get("tokens"), r["obs"]["tokens"])}
    summary: dict[str, Any] = {}
    for key in ("weights", "tokens", "sr_weights", "sr_tokens"):
        for scope in ("current", "all"):
            vals = [abs(r["err"][key]) for r in rows if r["err"][key] is not None
                    and (scope == "all" or r["era"] == "current")]
            summary[f"{key}_{scope}"] = {"n": len(vals), "median": quantile(vals, 0.5), "p90": quantile(vals, 0.9)}
    verdict = [r for r in rows if r["obs"]["fits"] is not None]
    summary["fit_right"] = sum(1 for r in verdict if r["fits"] == r["obs"]["fits"])
    summary["fit_cases"] = len(verdict)
    summary["sr_fit_right"] = sum(1 for r in verdict if r["sparkrun"].get("fits") == r["obs"]["fits"])
    if args.json:
        json.dump({"rows": rows, "summary": summary, "skipped": skipped}, sys.stdout, indent=1, default=str)
        print()
        return 0
    print(f"{'case':<5}{'model':<44}{'gpus':>4} {'era':<7} {'W obs':>7} {'pilot':>7} {'sparkrun':>8}   "
          f"{'tokens obs':>10} {'pilot':>7} {'sparkrun':>8}   fit obs/pilot/sparkrun")
    for r in rows:
        o = r["obs"]
        w = f"{o['weights']:7.2f}" if o["weights"] is not None else "    n/a"
        t = f"{o['tokens']:>10,}" if o["tokens"] else "       n/a"
        fit = "/".join("-" if v is None else ("yes" if v else "no") for v in (o["fits"], r["fits"], r["sparkrun"].get("fits")))
        print(f"{r['id']:<5}{r['model'][:43]:<44}{r['gpus']:>4} {r['era']:<7} {w} {pct(r['err']['weights'])} "
              f"{pct(r['err']['sr_weights']):>8}   {t} {pct(r['err']['tokens'])} {pct(r['err']['sr_tokens']):>8}   {fit}")
    print()
    print("error = (estimate - vLLM) / vLLM; 'current' = V1 engine on vLLM >= 0.12 (the NGC 26.x stacks), "
          "'all' adds V0 and older V1 builds")
    for key, label in (("weights", "weights GiB"), ("tokens", "KV tokens")):
        med, p90 = TARGETS[key]
        for scope in ("current", "all"):
            a, b = summary[f"{key}_{scope}"], summary[f"sr_{key}_{scope}"]
            print(f"{label:<12}{scope:<8} sparkpilot: median {a['median'] * 100:5.1f}%  p90 {a['p90'] * 100:5.1f}% "
                  f"(n={a['n']})   sparkrun: median {b['median'] * 100:5.1f}%  p90 {b['p90'] * 100:5.1f}% (n={b['n']})"
                  + (f"   target: median <= {med * 100:.0f}%, p90 <= {p90 * 100:.0f}%" if scope == "current" else ""))
    sr_fit = f"{summary['sr_fit_right']}/{summary['fit_cases']}" if sr else "n/a (not run)"
    print(f"fit verdict  sparkpilot {summary['fit_right']}/{summary['fit_cases']} right, sparkrun {sr_fit}")
    wrong = [r for r in rows if r["obs"]["fits"] is not None and r["fits"] != r["obs"]["fits"]]
    for r in wrong:
        m = "n/a" if r["margin"] is None else f"{r['margin'] * 100:+.1f}%"
        print(f"  verdict differs on {r['id']}: vLLM's KV cache vs one request's need, margin {m}; {r['note']}")
    if skipped:
        print("\nnot replayed:")
        for cid, why in skipped:
            print(f"  {cid}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
