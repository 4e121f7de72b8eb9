"""Config variants of the GPT-NeoX, OPT, Gemma and Phi ports, with transformers' own logits and greedy generations.

The parity-real fixtures hold one config per architecture; these variants exercise the options those configs leave
at one value (sequential residual, full/partial rotary, post-LayerNorm OPT with word_embed_proj_dim != hidden_size,
Gemma multi-head attention with head_dim * heads != hidden_size and an untied head, Phi with grouped-query
attention, full rotary, tied embeddings, or qk_layernorm). Random weights (transformers.set_seed(42) before each
model), a 96-token vocabulary and no tokenizer: the tests feed ids.

Run with the reference stack (transformers 4.39, see shared/tools/refstack):
    . /opt/refstack/env.sh
    PYTHONPATH=$REF_PYTHONPATH $REF_PYTHON python/reference/make_architecture_variants.py tests/fixtures/arch-variants
"""

import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file

VOCAB = 96
COMMON = {"vocab_size": VOCAB, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2, "max_position_embeddings": 64}

VARIANTS = {
    "gpt_neox_sequential": ("GPTNeoXConfig", "GPTNeoXForCausalLM", {
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 48,
        "rotary_pct": 1.0, "use_parallel_residual": False, "hidden_act": "gelu_new", "tie_word_embeddings": False}),
    "gpt_neox_rotary_half_tied": ("GPTNeoXConfig", "GPTNeoXForCausalLM", {
        "hidden_size": 48, "num_hidden_layers": 3, "num_attention_heads": 3, "intermediate_size": 64,
        "rotary_pct": 0.5, "rotary_emb_base": 500, "use_parallel_residual": True, "tie_word_embeddings": True}),
    "opt_post_ln_projected": ("OPTConfig", "OPTForCausalLM", {
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "ffn_dim": 48,
        "do_layer_norm_before": False, "word_embed_proj_dim": 16, "activation_function": "relu"}),
    "opt_pre_ln_projected_nobias": ("OPTConfig", "OPTForCausalLM", {
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "ffn_dim": 40,
        "do_layer_norm_before": True, "word_embed_proj_dim": 24, "enable_bias": False, "activation_function": "gelu"}),
    "gemma_mha_wide_heads_untied": ("GemmaConfig", "GemmaForCausalLM", {
        "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 4, "head_dim": 16, "rope_theta": 1000.0, "tie_word_embeddings": False}),
    "gemma_gqa": ("GemmaConfig", "GemmaForCausalLM", {
        "hidden_size": 48, "intermediate_size": 64, "num_hidden_layers": 3, "num_attention_heads": 6,
        "num_key_value_heads": 2, "head_dim": 8, "hidden_activation": "gelu_pytorch_tanh"}),
    "phi_gqa_full_rotary_tied": ("PhiConfig", "PhiForCausalLM", {
        "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "partial_rotary_factor": 1.0, "tie_word_embeddings": True}),
    "phi_qk_layernorm": ("PhiConfig", "PhiForCausalLM", {
        "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 1,
        "partial_rotary_factor": 0.4, "qk_layernorm": True, "hidden_act": "gelu"}),
}

INPUTS = [[0, 5, 17, 42, 9, 77, 13, 50], [3, 88, 4], [0, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70]]


def main(root):
    for name, (config_class, model_class, args) in VARIANTS.items():
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        config = getattr(transformers, config_class)(**COMMON, **args)
        config._attn_implementation = "eager"
        transformers.set_seed(42)
        model = getattr(transformers, model_class)(config).eval()
        if name.startswith("gemma"):
            # Gemma's RMSNorm weights start at zero (a scale of exactly 1): give them random values so the (1 + w)
            # form is tested.
            with torch.no_grad():
                for module in model.modules():
                    if type(module).__name__ == "GemmaRMSNorm":
                        module.weight.normal_(0.0, 0.5)
        model.save_pretrained(folder, safe_serialization=True)
        tensors, generations = {}, []
        with torch.no_grad():
            for i, ids in enumerate(INPUTS):
                input_ids = torch.tensor([ids])
                tensors[f"input_{i}.input_ids"] = input_ids[0].clone()
                tensors[f"input_{i}.logits"] = model(input_ids).logits[0].float().contiguous()
                output = model.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=8,
                                        do_sample=False, num_beams=1, pad_token_id=2)
                generations.append({"input_ids": ids, "new_token_ids": output[0, len(ids):].tolist()})
        save_file(tensors, os.path.join(folder, "logits.safetensors"))
        with open(os.path.join(folder, "generation.json"), "w") as f:
            json.dump({"generate_kwargs": {"max_new_tokens": 8, "do_sample": False, "num_beams": 1},
                       "transformers": transformers.__version__, "inputs": generations}, f, indent=1)
        print(name, sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    main(sys.argv[1])
