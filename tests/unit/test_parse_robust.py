"""Whatever text arrives, the launch parser answers with a LaunchSpec or a one-line UsageError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sparkpilot.errors import UsageError
from sparkpilot.rules.lint import lint_launch
from sparkpilot.vllm import fix
from sparkpilot.vllm.parse import parse_text

WORDS = ["vllm", "serve", "docker", "run", "-e", "A=1", "--enforce-eager", "-tp", "2", "'", '"', "\\\n", "\n",
         "#", "&&", "|", ";", "$X", "${Y:-z}", "{p}", "--x=1", "bash", "-c", "nvcr.io/nvidia/vllm:26.04-py3",
         "services:", "  ", "command:", "- ", "ray", "start", "--head", "export", ">", "2>&1", "=", "--no-x", "-O3"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=30).map(" ".join))
def test_parse_never_crashes(text):
    try:
        spec = parse_text(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    findings = lint_launch(spec)
    edits = [e for f in findings for e in f.edits]
    try:
        fix.apply(spec, edits)
    except UsageError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_bytes_never_crash(data):
    try:
        parse_text(data)
    except UsageError:
        pass


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(
    ["vllm serve m --enforce-eager", "vllm", "serve", "-tp", "2", "bash", "-c", "{p}", "x=1", "nvcr.io/nvidia/vllm:26.04-py3"]))
KEYS = st.sampled_from(["services", "command", "args", "env", "environment", "image", "containers", "spec",
                        "template", "defaults", "recipe_version", "model", "runtime", "entrypoint", "name", "value",
                        "solo_only", "min_nodes", "p", "tensor-parallel-size", "gpu-memory-utilization"])
DOCS = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(KEYS, inner, max_size=5)), max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(KEYS, DOCS, min_size=1, max_size=5))
def test_yaml_shapes_never_crash(doc):
    import yaml

    try:
        spec = parse_text(yaml.safe_dump(doc), "launch.yaml")
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    findings = lint_launch(spec)
    try:
        fix.apply(spec, [e for f in findings for e in f.edits])
    except UsageError:
        pass
