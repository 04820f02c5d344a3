"""The kept benchmark client: vLLM's own `vllm bench serve`.

Why this one: it ships inside every vLLM image a Spark runs (NGC, community, upstream), so it needs
no install on the node and matches the server's version; it reads the served model's tokenizer
from the local Hugging Face cache (HF_HUB_OFFLINE=1, nothing fetched); it has closed loop
(--max-concurrency), open loop with Poisson arrivals (--request-rate, --burstiness), SLO goodput
(--goodput), shared-prefix prompts for prefix caching (--random-prefix-len) and a result file
(--save-result) with every figure sparkpilot judges.

Where it runs: inside the deployment's image on the node that serves (`docker run --rm --network
host`, the deployment's mounts), or a `vllm` already on that host's PATH (`place="host"`).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from sparkpilot.benchmark.results import Row, parse_result_json
from sparkpilot.errors import EXIT_FINDINGS, SparkpilotError
from sparkpilot.transport.base import Runner

RESULT_DIR = "/tmp/sparkpilot-bench"


@dataclass(frozen=True)
class Load:
    """One client run's load: prompt/decode lengths and either concurrency (closed loop) or a rate."""

    name: str
    input_len: int
    output_len: int
    num_prompts: int
    concurrency: int | None = None
    request_rate: float | None = None     # Poisson arrivals per second (open loop)
    prefix_len: int = 0                   # shared prefix ahead of every prompt (prefix caching)
    goodput: tuple[str, ...] = ()         # SLOs, e.g. ("ttft:2000", "tpot:100") in ms

    def label(self) -> str:
        parts = [self.name, f"in{self.input_len}", f"out{self.output_len}"]
        if self.prefix_len:
            parts.append(f"depth{self.prefix_len}")
        parts.append(f"c{self.concurrency}" if self.concurrency else f"rate{self.request_rate:g}")
        return "-".join(parts)


@dataclass
class Client:
    """How to reach the server and where the client runs."""

    base_url: str                          # e.g. http://127.0.0.1:8000
    model: str                             # the served model name
    tokenizer: str                         # the model's id or path as the server sees it
    image: str | None = None               # run inside this image (docker); None: `vllm` on the host's PATH
    mounts: list[str] = field(default_factory=list)   # docker -v specs (the deployment's HF cache / model dir)
    seed: int = 0

    def argv(self, load: Load, result_file: str) -> list[str]:
        bench = ["bench", "serve", "--backend", "openai", "--base-url", self.base_url,
                 "--endpoint", "/v1/completions", "--model", self.model, "--tokenizer", self.tokenizer,
                 "--dataset-name", "random", "--random-input-len", str(load.input_len),
                 "--random-output-len", str(load.output_len), "--random-range-ratio", "0",
                 "--num-prompts", str(load.num_prompts), "--ignore-eos", "--seed", str(self.seed),
                 "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,99",
                 "--ready-check-timeout-sec", "0", "--save-result", "--result-dir", RESULT_DIR,
                 "--result-filename", result_file]
        if load.prefix_len:
            bench += ["--random-prefix-len", str(load.prefix_len)]
        if load.concurrency:
            bench += ["--max-concurrency", str(load.concurrency)]
        if load.request_rate:
            bench += ["--request-rate", f"{load.request_rate:g}", "--burstiness", "1.0"]
        if load.goodput:
            bench += ["--goodput", *load.goodput]
        if self.image is None:
            return ["vllm", *bench]
        docker = ["docker", "run", "--rm", "--network", "host", "--entrypoint", "vllm",
                  "-e", "HF_HUB_OFFLINE=1", "-e", "TRANSFORMERS_OFFLINE=1", "-e", "VLLM_NO_USAGE_STATS=1",
                  "-v", f"{RESULT_DIR}:{RESULT_DIR}"]
        for mount in self.mounts:
            docker += ["-v", mount]
        return [*docker, self.image, *bench]

    def run(self, runner: Runner, load: Load, result_file: str, timeout: float) -> Row:
        """Run one load on `runner`'s host and read its result file back."""
        runner.run(["mkdir", "-p", RESULT_DIR], timeout=10)
        argv = self.argv(load, result_file)
        if self.image is None:
            argv = ["env", "HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", *argv]
        result = runner.run(argv, timeout=timeout)
        if not result.ok:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise SparkpilotError(f"benchmark client failed (exit {result.rc}) on {runner.name}: "
                                  + " | ".join(tail), EXIT_FINDINGS)
        saved = runner.run(["cat", f"{RESULT_DIR}/{result_file}"], timeout=10)
        runner.run(["rm", "-f", f"{RESULT_DIR}/{result_file}"], timeout=10)
        if not saved.ok:
            raise SparkpilotError(f"benchmark client wrote no result file on {runner.name}", EXIT_FINDINGS)
        row = parse_result_json(saved.stdout, profile=load.name)
        if row.completed == 0:
            # the client exits 0 even when every request failed (e.g. nothing listens at the URL)
            raise SparkpilotError(f"benchmark client completed no request ({row.failed} failed) against "
                                  f"{self.base_url} from {runner.name}: is the server up and serving "
                                  f"`{self.model}`?", EXIT_FINDINGS)
        row.input_len, row.output_len = load.input_len, load.output_len
        row.concurrency = load.concurrency
        row.request_rate = load.request_rate
        return row

    def describe(self, load: Load) -> str:
        return shlex.join(self.argv(load, "RESULT.json"))
