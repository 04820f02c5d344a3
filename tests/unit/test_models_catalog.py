"""Every catalog entry: parameters computed from its config shapes must agree with its published
weight bytes for its dtype and quantisation, and its capabilities must be right.

Tolerance (per entry) = TOL_BASE + the entry's weight_bytes_rel_precision, where:
- weight_bytes_rel_precision is the rounding of the published figure (HF shows sizes with 3
  significant digits: 65.3 GB is +-0.08%; sums of several rounded shard sizes a little more);
- TOL_BASE covers what the shape model leaves out on purpose: per-matrix extras (GPTQ g_idx,
  per-tensor fp8 scales, biases the config does not announce), and, for multimodal checkpoints,
  the vision tower which is estimated with a generic ViT formula (its exact layout varies).
  Text-only, unquantised: 1.0%. Quantised or multimodal: 3.0% (a vision tower is 1-3% of these
  checkpoints, and which small modules a quantiser leaves in bf16 is read from the ignore list
  only approximately). A wrong layer count, hidden size or expert count moves the figure by far
  more than that (one layer of 64 is 1.6%; a wrong bytes-per-parameter is 2x).

Entries whose bytes were DERIVED (no published total found: `weight_bytes_derived` is true, the
derivation is in sources.weight_bytes_how) agree with the shapes by construction, so the check above
only guards them against later edits of the shapes or the quantisation arithmetic (0.1%; the
derivation names any per-matrix extra the shape model leaves out, such as GPTQ g_idx, in
weight_bytes_extra). What tests
them is `test_derived_bytes_against_public_figure`: each derived entry carries `cross_check`, public
figures (a download size, a file listing, a vLLM "Model loading took X GiB" at TP=n, which is per
GPU) each with its own tolerance and source, or says in `cross_check_missing` why there is none.
"""

from __future__ import annotations

import pytest

from sparkpilot.models import catalog_ids, lookup, quant, registry, shapes

TOL_TEXT = 0.010
TOL_QUANT_OR_MM = 0.030
TOL_DERIVED_CONSISTENCY = 0.001
UNITS = {"bytes": 1, "GB": 1e9, "GiB": 2 ** 30, "billion bf16 parameters": 2e9}

IDS = catalog_ids()


def _entry(mid):
    e = registry.find_entry(mid)
    assert e is not None, mid
    return e


def test_catalog_is_big_enough_and_indexed():
    assert len(IDS) >= 12
    assert registry.build_index() == registry.index(), "catalog/index.json is stale: run registry.write_index()"


@pytest.mark.parametrize("mid", IDS)
def test_params_from_shapes_match_weight_bytes(mid):
    e = _entry(mid)
    cfg = dict(e["config"])
    if e.get("quant_config"):
        cfg["quantization_config"] = e["quant_config"]
    parts = shapes.count(cfg)
    q = quant.detect(cfg)
    expected = quant.expected_bytes(parts, q)
    published = e["weight_bytes"]
    multimodal = isinstance(cfg.get("vision_config"), dict)
    tol = (TOL_QUANT_OR_MM if (q.quantization or multimodal) else TOL_TEXT) + e.get("weight_bytes_rel_precision", 0)
    if e.get("weight_bytes_derived"):
        tol = TOL_DERIVED_CONSISTENCY
        expected += (e.get("weight_bytes_extra") or {}).get("bytes", 0)
    err = expected / published - 1
    assert abs(err) <= tol, f"{mid}: shapes say {expected / 1e9:.2f} GB, published {published / 1e9:.2f} GB ({err:+.2%})"


@pytest.mark.parametrize("mid", IDS)
def test_entry_has_public_sources(mid):
    e = _entry(mid)
    src = e.get("sources") or {}
    for key in ("config", "weight_bytes"):
        assert str(src.get(key, "")).startswith("https://"), f"{mid}: no public URL for {key}"
    assert isinstance(e["weight_bytes"], int) and e["weight_bytes"] > 0


@pytest.mark.parametrize("mid", IDS)
def test_capabilities(mid):
    info = lookup(mid)
    assert info is not None and info.source == "catalog"
    low = mid.lower()
    assert info.is_gpt_oss == ("gpt-oss" in low)
    if info.is_gpt_oss:
        assert info.quantization == "mxfp4"
    for marker, scheme in (("nvfp4", "nvfp4"), ("-fp4", "nvfp4"), ("-fp8", "fp8"), ("awq", "awq"), ("gptq", "gptq")):
        if marker in low:
            assert info.quantization == scheme, f"{mid}: quantization {info.quantization}"
    if info.quantization is None:
        assert info.quant_bits is None
    assert info.is_moe == bool(info.num_experts)
    if info.is_moe and info.num_experts_per_tok:
        assert info.active_parameters < info.num_parameters
    assert info.num_hidden_layers and info.hidden_size and info.vocab_size
    assert info.kv_bytes_per_token_per_layer() > 0
    assert info.weight_bytes == _entry(mid)["weight_bytes"]


DERIVED = [mid for mid in IDS if _entry(mid).get("weight_bytes_derived")]


@pytest.mark.parametrize("mid", DERIVED)
def test_derived_bytes_against_public_figure(mid):
    e = _entry(mid)
    assert str(e["sources"].get("weight_bytes_how", "")).startswith("derived"), f"{mid}: say how it was derived"
    checks = e.get("cross_check") or []
    if not checks:
        assert len(str(e.get("cross_check_missing", ""))) > 20, f"{mid}: no cross-check and no reason given"
        return
    for c in checks:
        # a public URL, the user's reference file (it has none of its own), or a public document
        # found by the team's code search whose repository the search does not name
        assert str(c.get("source", "")).startswith(("https://", "../shared/reference/", "find_string id ")) \
            and c.get("what"), \
            f"{mid}: cross-check without source"
        figure = c["value"] * UNITS[c["unit"]] * c.get("tensor_parallel_size", 1)
        err = e["weight_bytes"] / figure - 1
        assert abs(err) <= c["tolerance"], (
            f"{mid}: derived {e['weight_bytes'] / 1e9:.2f} GB vs {c['what']} {c['value']} {c['unit']}"
            f" x{c.get('tensor_parallel_size', 1)} ({err:+.2%}, tolerance {c['tolerance']:.1%})")
