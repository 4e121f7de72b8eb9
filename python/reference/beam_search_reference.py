#!/usr/bin/env python3
"""Reference outputs of transformers' generate() for the native generator's decoding strategies (beam search with its
settings, repetition penalty, no-repeat n-grams) on the tiny parity models. Run with the reference stack
(../shared/tools/refstack): PYTHONPATH=$REF_PYTHONPATH /usr/bin/python3 python/reference/beam_search_reference.py
MODELS_DIR OUT.json. Writes, per case, the prompt ids, the generate() keyword arguments and the new token ids."""
import json, sys
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

models_dir, out_path = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
settings = [
    {"num_beams": 2},
    {"num_beams": 3},
    {"num_beams": 4, "length_penalty": 0.5},
    {"num_beams": 4, "length_penalty": 2.0},
    {"num_beams": 3, "early_stopping": True},
    {"num_beams": 3, "early_stopping": "never"},
    {"num_beams": 3, "no_repeat_ngram_size": 2},
    {"num_beams": 2, "repetition_penalty": 1.5},
    {"repetition_penalty": 1.3},
    {"no_repeat_ngram_size": 2},
]
prompts = {
    "decoder": [[464, 2068, 7586, 21831], [1212, 318, 257, 1332, 286], [40]],
    "encoder-decoder": None,
}
cases = []
for name in ["gpt2", "llama", "qwen2", "bart", "marian", "t5"]:
    path = f"{models_dir}/{name}"
    config = transformers.AutoConfig.from_pretrained(path)
    encdec = config.is_encoder_decoder
    cls = AutoModelForSeq2SeqLM if encdec else AutoModelForCausalLM
    model = cls.from_pretrained(path, attn_implementation="eager").eval()
    vocab = config.vocab_size
    rng = torch.Generator().manual_seed(len(name))
    inputs = [torch.randint(4, min(vocab, 1000), (n,), generator=rng).tolist() for n in (3, 6, 9)]
    if encdec:
        eos = config.eos_token_id
        inputs = [ids + [eos] for ids in inputs]
    for s_index, setting in enumerate(settings):
        for i_index, ids in enumerate(inputs):
            kwargs = dict(setting, max_new_tokens=6 + 2 * i_index, do_sample=False)
            with torch.no_grad():
                out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long), **kwargs)
            new = out[0].tolist()[len(ids):] if not encdec else out[0].tolist()[1:]
            cases.append({"id": f"{name}__{s_index}__{i_index}", "model": name, "prompt": ids, "kwargs": kwargs, "new_tokens": new})
json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "cases": cases}, open(out_path, "w"), indent=1)
print(len(cases), "cases")
