"""lookup / resolve / closest / catalog_ids, and the ModelInfo helpers the planner uses."""

from __future__ import annotations


import pytest

from sparkpilot import models
from sparkpilot.errors import UsageError


def test_lookup_is_case_insensitive_and_accepts_urls_and_paths():
    a = models.lookup("openai/gpt-oss-120b")
    assert a is not None and a.id == "openai/gpt-oss-120b"
    assert models.lookup("OpenAI/GPT-OSS-120B").id == a.id
    assert models.lookup("https://huggingface.co/openai/gpt-oss-120b").id == a.id
    assert models.lookup("/models/gpt-oss-120b").id == a.id      # a mounted copy named like the repo
    assert models.lookup("nobody/no-such-model") is None
    assert models.lookup("") is None


def test_gpt_oss_facts():
    info = models.lookup("openai/gpt-oss-120b")
    assert info.is_gpt_oss and info.is_moe and info.quantization == "mxfp4"
    assert info.num_experts == 128 and info.num_experts_per_tok == 4
    assert info.num_sliding_layers == 18 and info.num_full_layers == 18 and info.sliding_window == 128
    assert abs(info.num_parameters - 116.8e9) < 0.1e9             # published: 116.8B
    # KV: 8 KV heads x 64 dims x K,V x 2 bytes = 2048 B per token per layer
    assert info.kv_bytes_per_token_per_layer() == 2048
    # 1000 tokens: 18 full layers x 1000 + 18 sliding layers x 128 tokens
    assert info.kv_cache_bytes(1000) == 2048 * (18 * 1000 + 18 * 128)


def test_lookup_reads_the_catalog_once(monkeypatch):
    """Speed by structure, not by the clock: after the first lookup no catalog file is read again."""
    from pathlib import Path

    models.lookup("Qwen/Qwen3-8B")
    reads = []
    real = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **kw: reads.append(self) or real(self, *a, **kw))
    for _ in range(50):
        assert models.lookup("qwen/qwen3-8b") is not None
    assert reads == []


def test_closest_names_neighbours():
    near = models.closest("openai/gpt-oss-12b")
    assert near[0] == "openai/gpt-oss-120b" and len(near) == 3
    assert "Qwen/Qwen3-8B" in models.closest("qwen3-8b", n=5)


def test_resolve_unknown_offline_names_closest(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKPILOT_CACHE", str(tmp_path))
    with pytest.raises(UsageError) as e:
        models.resolve("openai/gpt-oss-12b", offline=True)
    msg = str(e.value)
    assert msg.startswith("unknown model openai/gpt-oss-12b offline; closest catalog entries: ")
    assert "openai/gpt-oss-120b" in msg and "\n" not in msg
    assert e.value.exit_code == 2


def test_resolve_missing_folder_is_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such model folder"):
        models.resolve(str(tmp_path / "nope"))


def test_resolve_prefers_catalog():
    assert models.resolve("qwen/qwen3-32b", offline=True).source == "catalog"


def test_resolve_uses_hub_cache_offline(tmp_path, monkeypatch):
    """A model fetched once from the Hub is cached as JSON; offline it is read from there."""
    import json

    from sparkpilot.models import hub

    monkeypatch.setenv("SPARKPILOT_CACHE", str(tmp_path))
    cfg = json.loads((__import__("pathlib").Path(__file__).parent.parent / "data" / "models"
                      / "qwen3_8b_config.json").read_text())["config"]
    path = hub._cache_path("someone/qwen3-8b-copy")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"config": cfg, "weight_bytes": 16_381_470_720, "weight_bytes_by_dtype": {}}))
    info = models.resolve("someone/qwen3-8b-copy", offline=True)
    assert info.source == "hub" and info.model_type == "qwen3" and info.weight_bytes == 16_381_470_720


def test_hub_fetch_reads_config_and_safetensors_metadata(tmp_path, monkeypatch):
    """The Hub path with huggingface_hub replaced by a local double of the two calls it makes
    (hf_hub_download -> a file path; get_safetensors_metadata -> files_metadata[*].tensors[*]
    with dtype and data_offsets, as huggingface_hub documents them). No network."""
    import json
    import sys
    import types
    from pathlib import Path

    cfg = json.loads((Path(__file__).parent.parent / "data" / "models" / "qwen3_8b_config.json").read_text())["config"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    calls = []

    def hf_hub_download(repo_id, filename, **kw):
        calls.append((repo_id, filename))
        if filename != "config.json":
            raise FileNotFoundError(filename)
        return str(tmp_path / "config.json")

    tensor = types.SimpleNamespace
    meta = types.SimpleNamespace(files_metadata={
        "model-00001-of-00002.safetensors": types.SimpleNamespace(tensors={
            "a": tensor(dtype="BF16", shape=[10, 10], data_offsets=(0, 200)),
            "b": tensor(dtype="BF16", shape=[5], data_offsets=(200, 210))}),
        "model-00002-of-00002.safetensors": types.SimpleNamespace(tensors={
            "c": tensor(dtype="F32", shape=[4], data_offsets=(0, 16))}),
    })
    fake = types.ModuleType("huggingface_hub")
    fake.hf_hub_download = hf_hub_download
    fake.get_safetensors_metadata = lambda repo_id, **kw: meta
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    monkeypatch.setenv("SPARKPILOT_CACHE", str(tmp_path / "cache"))
    import socket

    listener = socket.socket()                   # a real endpoint on loopback answers the reachability check
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{listener.getsockname()[1]}")

    info = models.resolve("someone/qwen3-8b-like", offline=False)
    listener.close()
    assert info.source == "hub" and info.model_type == "qwen3"
    assert info.weight_bytes == 226 and info.extra["weight_bytes_by_dtype"] == {"BF16": 210, "F32": 16}
    assert ("someone/qwen3-8b-like", "config.json") in calls
    # cached: offline now works without the module
    monkeypatch.delitem(sys.modules, "huggingface_hub")
    again = models.resolve("someone/qwen3-8b-like", offline=True)
    assert again.weight_bytes == 226


def test_hub_without_huggingface_hub_is_a_usage_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setenv("SPARKPILOT_CACHE", str(tmp_path))
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)     # import fails
    with pytest.raises(UsageError, match="huggingface_hub is not installed"):
        models.resolve("someone/not-in-catalog", offline=False)


def test_unreachable_hub_fails_fast_in_one_line(tmp_path, monkeypatch):
    """No network (nothing listens at the endpoint): one UsageError naming the closest entries, no retries."""
    import socket
    import sys
    import types

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()                                # now nothing listens there
    fake = types.ModuleType("huggingface_hub")
    fake.hf_hub_download = lambda *a, **k: (_ for _ in ()).throw(AssertionError("Hub must not be asked"))
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    monkeypatch.setenv("SPARKPILOT_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    with pytest.raises(UsageError) as err:
        models.resolve("someone/qwen3-8b-like", offline=False)
    msg = str(err.value)
    assert "cannot be reached" in msg and "Qwen/Qwen3-8B" in msg and "\n" not in msg
