"""Models made on the machine for the simulated cluster (no hub): run inside the engine image,
with its real transformers / tokenizers / safetensors (tests/sim/models.py calls it).

    python make_models.py OUT [tiny-random fixed-sentence big-random]

tiny-random     a 2-layer Llama with random weights: real answers, real garbage.
fixed-sentence  the same shape, built so that greedy decoding writes SENTENCE whatever the
                prompt: every block's output projections are zero (each block adds nothing to the
                residual stream), token t embeds as the basis vector e_t, and the output layer maps
                e_t to the token that follows t in the sentence (the first word after any other
                token, the end-of-sequence token after the last word).
big-random      a Llama of about 2.2 GB (bf16) in 4 safetensors shards with random weights: loading
                it takes long enough to interrupt, and copying it between nodes is real work.
"""

from __future__ import annotations

import itertools
import json
import os
import sys

SENTENCE = "The simulated Spark answered from a real vLLM engine."
SPECIALS = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
FILLER = ("hello hi what is the a an of to in and you your me my please say tell answer question "
          "who are how why where when can do does write one two three model test ok yes no").split()
CHAT_TEMPLATE = ("{% for m in messages %}{{ '<|' + m['role'] + '|> ' + m['content'] + ' ' }}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}")


def sentence_tokens() -> list[str]:
    """The sentence's tokens; the first without the word-start mark, so the answer does not begin
    with a space (the engine decodes it after the prompt, where a mark would become one)."""
    words = SENTENCE.split()
    return [words[0]] + ["\u2581" + w for w in words[1:]]


def vocab() -> list[str]:
    words = sentence_tokens()
    assert len(set(words)) == len(words), "the sentence's words must be unique (a next-token map)"
    extra = ["\u2581" + w for w in FILLER if "\u2581" + w not in words]
    return SPECIALS + words + extra


def save_tokenizer(out: str) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    toks = vocab()
    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(toks)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   additional_special_tokens=SPECIALS[3:])
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)


def llama_config(n_vocab: int, hidden: int, layers: int, heads: int, inter: int, dtype: str):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=n_vocab, hidden_size=hidden, intermediate_size=inter,
                       num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                       max_position_embeddings=2048, bos_token_id=1, eos_token_id=2, pad_token_id=2,
                       tie_word_embeddings=False, torch_dtype=dtype, rms_norm_eps=1e-6)


def tiny(out: str, fixed: bool) -> None:
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    toks = vocab()
    n = len(toks)
    hidden = 64 if n <= 64 else ((n + 15) // 16) * 16
    cfg = llama_config(n, hidden, layers=2, heads=2, inter=128, dtype="float32")
    model = LlamaForCausalLM(cfg)
    if fixed:
        ids = [toks.index(t) for t in sentence_tokens()]
        nxt = dict(itertools.pairwise(ids))
        nxt[ids[-1]] = 2  # </s> after the last word
        with torch.no_grad():
            for layer in model.model.layers:
                layer.self_attn.o_proj.weight.zero_()
                layer.mlp.down_proj.weight.zero_()
            model.model.embed_tokens.weight.zero_()
            model.lm_head.weight.zero_()
            for t in range(n):
                model.model.embed_tokens.weight[t, t] = 1.0
                model.lm_head.weight[nxt.get(t, ids[0]), t] = 1.0
    model.save_pretrained(out, safe_serialization=True)
    save_tokenizer(out)
    with open(os.path.join(out, "generation_config.json"), "w") as f:  # greedy by default, as built
        json.dump({"bos_token_id": 1, "eos_token_id": 2, "do_sample": False}, f)


def big(out: str) -> None:
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(1)
    toks = vocab()
    cfg = llama_config(len(toks), hidden=2048, layers=22, heads=16, inter=5632, dtype="bfloat16")
    cfg.save_pretrained(out)
    save_tokenizer(out)
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (len(toks), 2048),
                                          "model.norm.weight": (2048,), "lm_head.weight": (len(toks), 2048)}
    for i in range(22):
        p = f"model.layers.{i}."
        shapes.update({p + "self_attn.q_proj.weight": (2048, 2048), p + "self_attn.k_proj.weight": (2048, 2048),
                       p + "self_attn.v_proj.weight": (2048, 2048), p + "self_attn.o_proj.weight": (2048, 2048),
                       p + "mlp.gate_proj.weight": (5632, 2048), p + "mlp.up_proj.weight": (5632, 2048),
                       p + "mlp.down_proj.weight": (2048, 5632),
                       p + "input_layernorm.weight": (2048,), p + "post_attention_layernorm.weight": (2048,)})
    names = list(shapes)
    shards = 4
    per = (len(names) + shards - 1) // shards
    index: dict[str, str] = {}
    total = 0
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {}
        for name in names[s * per:(s + 1) * per]:
            shape = shapes[name]
            t = torch.ones(shape) if name.endswith("norm.weight") else torch.randn(shape) * 0.02
            part[name] = t.to(torch.bfloat16).contiguous()
            total += part[name].numel() * 2
            index[name] = fname
        save_file(part, os.path.join(out, fname), metadata={"format": "pt"})
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": index}, f, indent=1)


def main() -> None:
    out = sys.argv[1]
    which = sys.argv[2:] or ["tiny-random", "fixed-sentence", "big-random"]
    for name in which:
        path = os.path.join(out, name)
        os.makedirs(path, exist_ok=True)
        if name == "big-random":
            big(path)
        else:
            tiny(path, fixed=name == "fixed-sentence")
        print(name, path, flush=True)


if __name__ == "__main__":
    main()
