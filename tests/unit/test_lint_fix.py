"""`lint --fix`: per input kind, the fixed launch still parses as the same kind and the fixed rules
no longer fire."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkpilot.rules.lint import lint_launch
from sparkpilot.secrets import mask_secrets
from sparkpilot.vllm import fix
from sparkpilot.vllm.parse import parse_argv, parse_text

DATA = Path(__file__).resolve().parent.parent / "data" / "lint"

KINDS = [
    ("real/eugr-issue29-launch-cluster.sh", "command"),
    ("real/nvllm-serve-qwen35-agents.sh", "script"),
    ("real/nemotron-super-launch-server.sh", "docker"),
    ("real/lephanff-qwen3-coder-30b-nvfp4-docker.sh", "docker"),
    ("real/timothystewart6-compose-head.yaml", "compose"),
    ("real/compose-qwen3-32b-fp8-ngc2509.yaml", "compose"),
    ("real/compose-agent-qwen3-vl-30b-fp8.yaml", "compose"),
    ("real/eugr-nemotron-3-super-nvfp4-solo.yaml", "recipe"),
    ("real/sparkrun-gpt-oss-120b.yaml", "recipe"),
    ("real/4x-spark-cluster-nemotron-3-ultra-nvfp4.yaml", "recipe"),
    ("cutlass-fp4/fire_flashinfer_moe_fp4_env.yaml", "compose"),
    ("datacenter-blackwell/fire_arch_list.sh", "script"),
]


def fixed_and_again(path: Path):
    spec = parse_text(path.read_text(), str(path))
    findings = lint_launch(spec)
    edits = [e for f in findings for e in f.edits]
    text = fix.apply(spec, edits)
    again = parse_text(text, str(path))
    return spec, findings, text, again, lint_launch(again)


@pytest.mark.parametrize("rel,kind", KINDS, ids=[k[0] for k in KINDS])
def test_fix_round_trip(rel, kind):
    path = DATA / rel
    spec, findings, _text, again, left = fixed_and_again(path)
    assert spec.source_kind == kind and again.source_kind == kind
    assert again.model == spec.model
    fixed = {f.rule for f in findings if f.edits}
    assert fixed, "the case has something to fix"
    # a rule whose fix needs a flag the image's vLLM lacks stays, saying so (the fix never writes that flag)
    assert not [f.message for f in left if f.rule in fixed and "use a newer image" not in f.message]
    before = {f.message for f in findings if f.rule == "unknown-flag"}
    assert not [f.message for f in left if f.rule == "unknown-flag" and f.message not in before]
    # nothing else of the launch was lost
    for dest, _value in spec.options.items():
        if dest in ("enforce_eager", "load_format", "mxfp4_backend", "quantization"):
            continue
        assert dest in again.options, dest


def test_fix_command_from_argv():
    argv = ["vllm", "serve", "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-NVFP4", "--enforce-eager",
            "--gpu-memory-utilization=0.95", "--trust-remote-code"]
    spec = parse_argv(argv)
    findings = lint_launch(spec)
    text = fix.apply(spec, [e for f in findings for e in f.edits])
    assert text.startswith("VLLM_NVFP4_GEMM_BACKEND=marlin vllm serve nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-NVFP4")
    assert "--gpu-memory-utilization=0.85" in text and "--enforce-eager" not in text
    assert not [f for f in lint_launch(parse_text(text)) if f.severity == "error"]


def test_recipe_fix_keeps_placeholders_and_comments():
    path = DATA / "real" / "eugr-nemotron-3-super-nvfp4-solo.yaml"
    spec = parse_text(path.read_text(), str(path))
    spec.options["gpu_memory_utilization"] = "0.95"   # as if the default said so
    text = fix.apply(spec, [e for f in lint_launch(spec) for e in f.edits])
    assert "# source:" in text and "{gpu_memory_utilization}" in text
    assert "--moe-backend marlin" in text and 'VLLM_ATTENTION_BACKEND: "TRITON_ATTN"' in text
    assert "gpu_memory_utilization: 0.85" in text


def test_script_fix_changes_only_the_vllm_command():
    path = DATA / "real" / "nemotron-super-launch-server.sh"
    original = path.read_text()
    _, _, text, _, _ = fixed_and_again(path)
    head = original[: original.index("docker run")]
    assert text.startswith(head)
    assert "# Notes:" in text and "--moe-backend marlin" in text


def test_secrets_are_masked():
    assert mask_secrets("-e HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz12") == "-e HF_TOKEN=***"
    assert mask_secrets("HF_TOKEN=${HF_TOKEN}") == "HF_TOKEN=${HF_TOKEN}"


K8S = """apiVersion: apps/v1
kind: Deployment
metadata: {name: vllm}
spec:
  template:
    spec:
      containers:
      - name: vllm
        image: nvcr.io/nvidia/vllm:26.04-py3
        command: ["vllm", "serve"]
        args: ["Qwen/Qwen3-30B-A3B", "--gpu-memory-utilization", "0.95", "--enforce-eager"]
        env:
        - {name: VLLM_ATTENTION_BACKEND, value: FLASHINFER}
"""


def test_fix_kubernetes_container():
    spec = parse_text(K8S, "deploy.yaml")
    findings = lint_launch(spec)
    text = fix.apply(spec, [e for f in findings for e in f.edits])
    again = parse_text(text, "deploy.yaml")
    assert again.source_kind == "k8s" and again.model == "Qwen/Qwen3-30B-A3B"
    assert again.env["VLLM_ATTENTION_BACKEND"] == "TRITON_ATTN"
    # Qwen3-30B-A3B is BF16: no --moe-backend marlin (vLLM refuses it on unquantised MoE; issue 8)
    assert "moe_backend" not in again.options and "enforce_eager" not in again.options
    fixed = {f.rule for f in findings if f.edits}
    assert {"gpu-memory-utilization", "enforce-eager", "flashinfer-attention"} <= fixed
    assert not [f for f in lint_launch(again) if f.rule in fixed]


def test_fix_docker_bash_c():
    launch = ('docker run --gpus all -e NCCL_NVLS_ENABLE=1 nvcr.io/nvidia/vllm:26.04-py3 bash -c '
              '"vllm serve openai/gpt-oss-120b --enforce-eager --attention-backend FLASHINFER"\n')
    spec = parse_text(launch)
    findings = lint_launch(spec)
    text = fix.apply(spec, [e for f in findings for e in f.edits])
    again = parse_text(text)
    assert again.source_kind == "docker" and again.image == "nvcr.io/nvidia/vllm:26.04-py3"
    assert again.env["NCCL_NVLS_ENABLE"] == "0"
    assert again.options["attention_backend"] == "TRITON_ATTN" and "enforce_eager" not in again.options
    fixed = {f.rule for f in findings if f.edits}
    assert not [f for f in lint_launch(again) if f.rule in fixed]


def test_fix_vllm_config_file():
    path = DATA / "formats" / "vllm-issue-config.yaml"
    spec = parse_text(path.read_text(), str(path))
    text = fix.apply(spec, [e for f in lint_launch(spec) for e in f.edits])
    again = parse_text(text, "config.yaml")
    assert again.source_kind == "vllm-config" and again.options["gpu_memory_utilization"] in ("0.85", 0.85)
    assert not [f for f in lint_launch(again) if f.rule in ("gpu-memory-utilization", "kv-cache-fp8")]
