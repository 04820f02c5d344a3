"""The simulated host's own ceilings (`--hardware measured`): memory bandwidth and matmul FLOPS
measured with torch inside the deployment's image on the serving node, times a margin, so that a
row above them is impossible there as a row above the GB10's sourced figures is on a Spark.
"""

from __future__ import annotations

import json

from sparkpilot.benchmark.knowledge import Hardware
from sparkpilot.errors import EXIT_FINDINGS, SparkpilotError
from sparkpilot.transport.base import Runner

MARGIN = 1.5   # a measured figure is not the peak; the ceiling leaves this much room above it

_SCRIPT = """
import json, time, torch
torch.set_num_threads(max(1, torch.get_num_threads()))
x = torch.empty(256 * 1024 * 1024, dtype=torch.uint8)
x.fill_(1)
best = 0.0
for _ in range(5):
    t = time.perf_counter(); y = x.clone(); dt = time.perf_counter() - t
    best = max(best, 2 * x.numel() / dt)   # bytes read + written
    del y
flops = {}
for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
    a = torch.randn(1024, 1024, dtype=dt); b = torch.randn(1024, 1024, dtype=dt)
    a @ b
    t = time.perf_counter(); n = 0
    while time.perf_counter() - t < 0.5:
        a @ b; n += 1
    flops[name] = 2 * 1024 ** 3 * n / (time.perf_counter() - t)
print(json.dumps({"bandwidth_bytes_s": best, "flops": flops}))
"""


def measured(runner: Runner, image: str | None) -> Hardware:
    argv = ["python3", "-c", _SCRIPT]
    if image:
        argv = ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", image, "-c", _SCRIPT]
    result = runner.run(argv, timeout=180)
    lines = result.stdout.strip().splitlines()
    if not result.ok or not lines:
        raise SparkpilotError(f"could not measure {runner.name}'s bandwidth and FLOPS with torch: "
                              + (result.stderr.strip().splitlines() or ["no output"])[-1], EXIT_FINDINGS)
    data = json.loads(lines[-1])
    flops = {k: float(v) * MARGIN / 1e12 for k, v in data["flops"].items()}
    best = max(flops.values())
    peaks = {"fp32": flops.get("fp32", best), "bf16": best, "fp16": best, "fp8": best, "int8": best, "fp4": best}
    return Hardware(name=f"measured on {runner.name}", memory_bandwidth_gbs=data["bandwidth_bytes_s"] * MARGIN / 1e9,
                    peak_tflops=peaks,
                    source=f"measured with torch on {runner.name} (256 MiB tensor copy, 1024x1024 matmuls), x{MARGIN} margin")
