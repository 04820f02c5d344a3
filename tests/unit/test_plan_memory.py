"""The planner's memory and KV model against what vLLM printed (bench/data/memory, public logs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkpilot import models
from sparkpilot.models.info import ModelInfo
from sparkpilot.planner import PlanRequest, kv, memory, plan

REPO = Path(__file__).resolve().parents[2]
MEMORY = REPO / "bench" / "data" / "memory"
CONFIGS = REPO / "tests" / "data" / "plan" / "configs"


def case(cid: str) -> dict:
    return json.loads((MEMORY / f"{cid}.json").read_text())


def catalog(mid: str) -> ModelInfo:
    info = models.lookup(mid)
    if info is None:
        pytest.skip(f"{mid} not in the catalog")
    return info


def within(pred: float, obs: float, tol: float) -> bool:
    return abs(pred - obs) / abs(obs) <= tol


@pytest.mark.parametrize("cid,tp", [("108", 2), ("110", 1)])
def test_qwen3_32b_weights_split_like_vllm(cid, tp):
    # "Model loading took 30.59 GiB" at TP=2, "61.03 GiB" at TP=1 (RTX PRO 6000 logs)
    obs = case(cid)["observed"]["model_loading_gib"]
    split = memory.weights_per_gpu(catalog("Qwen/Qwen3-32B"), tp, 1)
    assert within(split.per_gpu_bytes / memory.GIB, obs, 0.01)


def test_qwen3_32b_tp2_kv_tokens_and_concurrency():
    c = case("108")  # 95.01 GiB cards, util 0.426, 32768 context: 67,296 tokens, 2.05x
    p = plan(PlanRequest("Qwen/Qwen3-32B", nodes=2, memory_gib=95.01, gpu_memory_utilization=0.426,
                         max_model_len=32768, kv_cache_dtype="auto"), catalog("Qwen/Qwen3-32B"))
    assert within(p.kv_cache_tokens, c["observed"]["kv_cache_tokens"], 0.08)
    assert within(p.max_concurrency, c["observed"]["max_concurrency"], 0.08)
    assert p.fits


def test_qwen3_32b_one_gpu_does_not_fit_and_needs_two():
    # the same budget on one card: "Available KV cache memory: -24.42 GiB"
    p = plan(PlanRequest("Qwen/Qwen3-32B", nodes=1, memory_gib=95.01, gpu_memory_utilization=0.426,
                         max_model_len=32768, kv_cache_dtype="auto"), catalog("Qwen/Qwen3-32B"))
    assert not p.fits and "weights" in p.reason
    assert p.min_nodes == 2


def test_qwen2_7b_weights_from_config_values():
    spec = json.loads((CONFIGS / "qwen2-7b-instruct.json").read_text())
    info = models.from_config(spec["config"], model_id="Qwen/Qwen2-7B-Instruct")
    obs = case("115")["observed"]  # "Model loading took 14.2488 GiB" (A100)
    assert within(memory.weights_per_gpu(info, 1, 1).per_gpu_bytes / memory.GIB, obs["model_loading_gib"], 0.01)


def test_fp8_dynamic_on_a_gb10_from_config_values():
    spec = json.loads((CONFIGS / "qwen2.5-14b-instruct-fp8-dynamic.json").read_text())
    info = models.from_config(spec["config"], model_id="neuralmagic/Qwen2.5-14B-Instruct-FP8-dynamic")
    c = case("120")  # GB10, vLLM 0.13 (NGC 26.01): 15.2227 GiB, 332,672 tokens, 10.15x at 32768
    p = plan(PlanRequest(info.id, nodes=1, gpu_memory_utilization=0.4, max_model_len=32768, kv_cache_dtype="fp8",
                         max_num_batched_tokens=2048, vllm_version=c["vllm_version"]), info)
    assert within(p.weights_gib_per_gpu, c["observed"]["model_loading_gib"], 0.01)
    assert within(p.kv_cache_tokens, c["observed"]["kv_cache_tokens"], 0.08)
    assert within(p.max_concurrency, c["observed"]["max_concurrency"], 0.08)


def test_kv_bytes_per_token_gqa_and_fp8():
    info = catalog("Qwen/Qwen3-32B")  # 64 layers, 8 KV heads of 128
    assert kv.layout(info, 1, 1, "auto").bytes_per_token() == 64 * 2 * 8 * 128 * 2
    assert kv.layout(info, 1, 1, "fp8").bytes_per_token() == 64 * 2 * 8 * 128
    assert kv.layout(info, 2, 1, "fp8").bytes_per_token() == 64 * 2 * 4 * 128
    # fewer KV heads than ranks: each rank keeps one head
    assert kv.layout(ModelInfo(id="x", num_hidden_layers=2, num_attention_heads=64, num_key_value_heads=4,
                               head_dim=128), 8, 1, "fp8").token_bytes == 2 * 1 * 128


def test_mla_kv_is_replicated_over_tp():
    info = ModelInfo(id="mla", num_hidden_layers=10, num_attention_heads=128, num_key_value_heads=128,
                     head_dim=192, kv_lora_rank=512, qk_rope_head_dim=64, dtype="bfloat16")
    one, two = kv.layout(info, 1, 1, "auto"), kv.layout(info, 2, 1, "auto")
    assert one.token_bytes == two.token_bytes == (512 + 64) * 2


def test_hybrid_groups_follow_vllm_padding_rule():
    # vLLM's own example: gpt-oss-20b + eagle, 12 sliding + 13 full layers -> groups of 13
    lay = kv.KVLayout(full_layers=13, sliding_layers=12, token_bytes=1024, window=128)
    size, groups = kv._groups(lay)
    assert size == 13 and groups == [("full", 1), ("sliding", 1)]
    # 10 full + 30 Gated DeltaNet layers: groups of 10, three state groups
    lay = kv.KVLayout(full_layers=10, mamba_layers=30, token_bytes=1024, state_bytes=1 << 20)
    assert kv._groups(lay) == (10, [("full", 1), ("mamba", 3)])


def test_sliding_window_layers_are_capped_at_the_window():
    info = catalog("openai/gpt-oss-120b")  # 18 full + 18 sliding (128) layers
    lay = kv.layout(info, 1, 1, "fp8")
    short, long = kv.need_bytes(lay, 8192, 8192), kv.need_bytes(lay, 131072, 8192)
    full_only = kv.KVLayout(full_layers=36, token_bytes=lay.token_bytes)
    assert long < kv.need_bytes(full_only, 131072, 8192) * 0.6
    assert long > short


def test_mamba_state_raises_the_attention_block_size():
    info = catalog("Qwen/Qwen3-Coder-Next")  # 12 attention + 36 Gated DeltaNet layers
    lay = kv.layout(info, 1, 1, "fp8")
    assert lay.mamba_layers == 36 and lay.full_layers == 12
    assert lay.block_size % 16 == 0 and lay.block_size * lay.token_bytes >= lay.state_bytes
    # a 1M-token request costs the full layers' KV plus one state page per state group only
    old = kv.layout(info, 1, 1, "fp8", mamba_align=False)
    assert kv.blocks_per_request(old, 1 << 20, 8192) == -(-(1 << 20) // lay.block_size) + 3
    # 'align' mode (prefix caching, vLLM 0.20+) keeps a second state page per group
    assert kv.blocks_per_request(lay, 1 << 20, 8192) == -(-(1 << 20) // lay.block_size) + 6


def test_max_len_fit_is_the_boundary():
    lay = kv.layout(catalog("Qwen/Qwen3-8B"), 1, 1, "fp8")
    avail = 3 * memory.GIB
    fit = kv.max_len_fit(lay, avail, 8192, 10_000_000)
    assert kv.need_bytes(lay, fit, 8192) <= avail < kv.need_bytes(lay, fit + lay.block_size, 8192)


def test_gpt_oss_mxfp4_loads_larger_than_its_checkpoint():
    info = catalog("openai/gpt-oss-120b")
    split = memory.weights_per_gpu(info, 1, 1)
    # vLLM through Marlin: "Model loading took 65.9651 GiB" (vllm-project/vllm#23278)
    assert within(split.per_gpu_bytes / memory.GIB, 65.9651, 0.02)


def test_shape_bytes_for_fp8_and_int4():
    info = catalog("meta-llama/Llama-3.3-70B-Instruct")
    fp8 = memory.shape_weight_bytes(info, "fp8") / memory.GIB
    # RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic: "Model loading took 67.72 GiB" (shared memory/104)
    assert within(fp8, case("104")["observed"]["model_loading_gib"], 0.02)
    int4 = memory.shape_weight_bytes(info, "gptq")
    assert int4 < memory.shape_weight_bytes(info, None) * 0.3


def test_default_utilisation_lower_at_long_context():
    assert memory.default_utilization(32768) == 0.87
    assert memory.default_utilization(65536) == 0.85
    assert memory.default_utilization(262144) < 0.85
    assert all(memory.default_utilization(n) <= memory.SPARK_UTIL_MAX for n in (1, 10**7))


def test_sampler_profile_depends_on_vllm_version():
    assert memory.sampler_bytes_per_logit("0.11.0") > memory.sampler_bytes_per_logit("0.19.0")
    assert memory.sampler_bytes_per_logit("vllm/vllm-openai:latest") == memory.SAMPLER_BYTES_PER_LOGIT
    assert memory.version_tuple("0.13.0+faa43dbf.nv26.01") == (0, 13)
    from sparkpilot import versions

    assert versions.key("0.11.0rc1", 4) == (0, 11, 0, 0) and versions.key("nightly") is None
    assert versions.satisfies("0.12.1", ">=0.12") and not versions.satisfies("0.11.9", ">=0.12")


def test_gdn_state_matches_the_block_size_vllm_printed():
    # vLLM printed "Setting attention block size to 2128 tokens" (2 MTP tokens, memory/130) and 2144
    # (3 MTP tokens, memory/134) for Qwen3.6-35B-A3B with fp8 KV. Each speculative token adds one conv
    # row (8192 bf16 values = 16384 bytes = 16 tokens of a 1024-byte fp8 attention page), so without
    # speculation the block is 2096: a bf16 conv state plus an fp32 recurrent state.
    lay = kv.layout(catalog("Qwen/Qwen3.6-35B-A3B"), 1, 1, "fp8")
    assert lay.token_bytes == 1024
    assert lay.block_size == 2128 - 2 * 16 == 2144 - 3 * 16


def test_gemma4_global_layers_get_a_larger_block_like_vllm():
    # Gemma 4 31B: 50 sliding layers (16 KV heads x 256) and 10 global ones (4 x 512, K=V). vLLM's
    # unify_kv_cache_spec_page_size keeps the larger page (sliding: 16 x 16 x 512 bytes at fp8) and
    # doubles the global layers' block size to 32 tokens; groups of 10 (5 sliding + 1 full)
    info = catalog("google/gemma-4-31B-it")
    lay = kv.layout(info, 1, 1, "fp8")
    assert (lay.token_bytes, lay.full_token_bytes) == (8192, 4096)
    assert (lay.block_of("sliding"), lay.block_of("full")) == (16, 32)
    assert kv.page_bytes(lay) == 16 * 8192
    assert kv._groups(lay) == (10, [("full", 1), ("sliding", 5)])
    # one 131072-token request: 4096 global blocks + 5 x (cdiv(1023 + 8192, 16) + 1) sliding blocks
    assert kv.blocks_per_request(lay, 131072, 8192) == 4096 + 5 * 577
    assert lay.bytes_per_token() == 10 * 4096
    # at TP=2 both kinds halve, the blocks stay 16 / 32
    lay2 = kv.layout(info, 2, 1, "fp8")
    assert (lay2.token_bytes, lay2.full_token_bytes, lay2.block_of("full")) == (4096, 2048, 32)


def test_gemma4_k_eq_v_layers_load_a_v_slot():
    # the checkpoint has no v_proj on the 10 global layers; vLLM loads K into the V slot as well
    info = catalog("google/gemma-4-31B-it")
    split = memory.weights_per_gpu(info, 1, 1)
    extra = 10 * info.hidden_size * 4 * 512 * 2
    assert split.per_gpu_bytes - split.checkpoint_bytes == extra


@pytest.mark.parametrize("cid,spec,block,conc,tokens,count", [
    ("134", 3, 2144, 20.84, 5463232, "new"),     # 0.20.2: max concurrency x max-model-len
    ("130", 2, 2128, 21.86, 1581104, "legacy"),  # 0.20.0: num_blocks // groups x block size
])
def test_mtp_speculation_kv_like_vllm_printed(cid, spec, block, conc, tokens, count):
    # Qwen3.6-35B-A3B with MTP: the drafter's layer is one more full-attention KV layer ("Add 3
    # padding layers": 11 full beside 30 linear), and each state group holds 2 + num_speculative
    # pages per request (MambaSpec.max_memory_usage_bytes, 'align' mode). The block size is the one
    # vLLM printed: the model facts have no conv width to add the draft tokens' conv columns.
    from dataclasses import replace

    obs = case(cid)["observed"]
    lay = kv.layout(catalog("Qwen/Qwen3.6-35B-A3B"), 1, 1, "fp8", speculative_tokens=spec)
    assert lay.full_layers == 11 and lay.mamba_blocks == 2 + spec
    assert kv._groups(lay) == (11, [("full", 1), ("mamba", 3)])
    lay = replace(lay, block_size=block)
    cap = kv.capacity(lay, int(obs["available_kv_cache_gib"] * memory.GIB), 262144, 32768)
    assert within(cap.max_concurrency, conc, 0.005)
    assert within(cap.tokens if count == "new" else cap.tokens_legacy, tokens, 0.005)


def test_mtp_weights_load_only_with_speculation():
    # Qwen3.8-27B without speculation: "Model loading took 51.1 GiB" (memory/126) for a 51.75 GiB
    # checkpoint whose MTP layer (424,699,392 bf16 parameters) vLLM leaves to the drafter
    info = catalog("Qwen/Qwen3.8-27B")
    plain = memory.weights_per_gpu(info, 1, 1)
    assert within(plain.per_gpu_bytes / memory.GIB, case("126")["observed"]["model_loading_gib"], 0.01)
    with_mtp = memory.weights_per_gpu(info, 1, 1, speculative_tokens=2)
    assert with_mtp.per_gpu_bytes - plain.per_gpu_bytes == memory.mtp_bytes(info) == 424699392 * 2


def test_gemma4_before_vllm_021_keeps_full_length_kv_in_every_layer():
    # vllm-project/vllm#43308: cyankiwi/gemma-4-31B-it-AWQ-4bit (bf16 KV) on an A100 80GB, the same
    # ~50 GB of KV cache: "~55k tokens" on v0.20.0 and "~525k tokens" on v0.21.0
    info = catalog("google/gemma-4-31B-it")
    avail = 50 * 10**9
    old = kv.layout(info, 1, 1, "auto", mixed_geometry_hybrid=False)
    assert (old.full_layers, old.sliding_layers) == (1, 0)
    assert old.token_bytes == 50 * 2 * 16 * 256 * 2 + 10 * 2 * 4 * 512 * 2
    assert within(kv.capacity(old, avail, 262144, 8192).tokens, 55_000, 0.03)
    new = kv.layout(info, 1, 1, "auto")
    # the issue gives neither max-model-len nor max-num-batched-tokens: with the model's 262144 and
    # the 8192 / 2048 batched-token defaults vLLM picks, "~525k" lies between the two estimates
    lo, hi = (kv.capacity(new, avail, 262144, b).tokens for b in (8192, 2048))
    assert lo < 525_000 < hi
    # the default Spark stack (NGC 26.04, vLLM 0.19.0) plans Gemma 4 the old way and says so
    p = plan(PlanRequest(info.id, nodes=1, max_model_len=131072, vllm_version="0.19.0"), info)
    assert any("43308" in n for n in p.notes)
    assert p.kv_cache_tokens * 5 < plan(PlanRequest(info.id, nodes=1, max_model_len=131072,
                                                    vllm_version="0.21.0"), info).kv_cache_tokens


@pytest.mark.parametrize("spec,printed", [(0, 2096), (2, 2128), (3, 2144)])
def test_draft_tokens_widen_the_conv_state_like_vllm_printed(spec, printed):
    # "Setting attention block size to N tokens": 2096 without MTP (a public Qwen3.6-35B-A3B-NVFP4
    # log on vLLM 0.20.0), 2128 with 2 draft tokens (memory/130), 2144 with 3 (memory/134). The conv
    # state keeps kernel - 1 + num_speculative_tokens columns of 2*16*128 + 32*128 = 8192 channels.
    # ModelInfo has no conv width yet (planner reads `linear_conv_dim` when the models package
    # provides it); set here from Qwen3.6-35B-A3B's config (linear_num_key_heads 16,
    # linear_key_head_dim 128, linear_num_value_heads 32, linear_value_head_dim 128).
    info = catalog("Qwen/Qwen3.6-35B-A3B")
    info.linear_conv_dim = 2 * 16 * 128 + 32 * 128
    assert kv.layout(info, 1, 1, "fp8", speculative_tokens=spec).block_size == printed
