"""Builds the small random encoder-decoders with different encoder and decoder depths (and head counts) used by
tests/fixtures/reference-asymmetric: a BART whose encoder is deeper than its decoder, a Marian and an M2M100 (the
NLLB architecture) whose decoder is deeper than their encoder, as distilled checkpoints are.

Usage (the Inseq 0.6 reference stack, see shared/tools/refstack):
    PYTHONPATH=$REF_PYTHONPATH /usr/bin/python3 python/reference/make_asymmetric_models.py OUT_ROOT

Writes OUT_ROOT/models/<name>/ (save_pretrained with safetensors + the slow tokenizer). Weights are random:
transformers.set_seed(42) right before constructing each model, eval mode, no training.
BART's tokenizer is BartTokenizer over the GPT-2 byte-level BPE of tests/fixtures/parity/models/gpt2 truncated to its
first 1000 merges (fairseq specials first, ids shifted by 4, <mask> last); Marian reuses the tokenizer files of
tests/fixtures/parity/models/marian, M2M100 those of tests/fixtures/parity-real/models/m2m100 (en -> fr).
"""
import json
import os
import shutil
import sys

import torch
import transformers
from transformers import set_seed

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PARITY = os.path.join(REPO, "tests", "fixtures", "parity", "models")
OUT = os.path.abspath(sys.argv[1])
SEED = 42


def bart_tokenizer(work):
    vocab = json.load(open(os.path.join(PARITY, "gpt2", "vocab.json"), encoding="utf-8"))
    lines = open(os.path.join(PARITY, "gpt2", "merges.txt"), encoding="utf-8").read().split("\n")
    header, merges = lines[0], [m for m in lines[1:] if m][:1000]
    out = {s: i for i, s in enumerate(["<s>", "<pad>", "</s>", "<unk>"])}
    for token, _ in sorted(((t, i) for t, i in vocab.items() if i < 256 + 1000), key=lambda x: x[1]):
        out[token] = len(out)
    out["<mask>"] = len(out)
    json.dump(out, open(os.path.join(work, "vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
    open(os.path.join(work, "merges.txt"), "w", encoding="utf-8").write(header + "\n" + "\n".join(merges) + "\n")
    return transformers.BartTokenizer(os.path.join(work, "vocab.json"), os.path.join(work, "merges.txt"))


def save(model, tokenizer, name, info, tokenizer_files_from=None):
    d = os.path.join(OUT, "models", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    model.eval()
    model.save_pretrained(d, safe_serialization=True)
    if tokenizer_files_from is None:
        tokenizer.save_pretrained(d)
    else:
        # save_pretrained of a reloaded M2M100Tokenizer fails on this stack (no Rust tokenizers): copy its files.
        for f in ("sentencepiece.bpe.model", "vocab.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(os.path.join(tokenizer_files_from, f), d)
    info.update(transformers_version=transformers.__version__, torch_version=torch.__version__, seed=SEED,
                parameters=sum(p.numel() for p in model.parameters()))
    json.dump(info, open(os.path.join(d, "model_info.json"), "w"), indent=1)
    print(name, info["parameters"], "parameters")


def main():
    work = os.path.join(OUT, "_work")
    os.makedirs(work, exist_ok=True)

    tok = bart_tokenizer(work)
    args = dict(vocab_size=len(tok), d_model=16, encoder_layers=3, decoder_layers=1, encoder_attention_heads=4,
                decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
                pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                decoder_start_token_id=tok.eos_token_id, forced_eos_token_id=tok.eos_token_id)
    set_seed(SEED)
    model = transformers.BartForConditionalGeneration(transformers.BartConfig(**args))
    save(model, tok, "bart_asym", {"class": "BartForConditionalGeneration", "config_args": args,
                                   "tokenizer": "BartTokenizer, GPT-2 BPE truncated to 1000 merges"})

    tok = transformers.MarianTokenizer.from_pretrained(os.path.join(PARITY, "marian"))
    base = json.load(open(os.path.join(PARITY, "marian", "config.json")))
    args = dict(vocab_size=base["vocab_size"], decoder_vocab_size=base["vocab_size"], d_model=16, encoder_layers=1,
                decoder_layers=3, encoder_attention_heads=2, decoder_attention_heads=4, encoder_ffn_dim=32,
                decoder_ffn_dim=32, max_position_embeddings=128, activation_function="swish", scale_embedding=True,
                pad_token_id=base["pad_token_id"], eos_token_id=base["eos_token_id"],
                decoder_start_token_id=base["decoder_start_token_id"], forced_eos_token_id=base["eos_token_id"],
                share_encoder_decoder_embeddings=True)
    set_seed(SEED)
    model = transformers.MarianMTModel(transformers.MarianConfig(**args))
    save(model, tok, "marian_asym", {"class": "MarianMTModel", "config_args": args,
                                     "tokenizer": "MarianTokenizer of tests/fixtures/parity/models/marian"})
    real = os.path.join(REPO, "tests", "fixtures", "parity-real", "models", "m2m100")
    tok = transformers.M2M100Tokenizer.from_pretrained(real)
    base = json.load(open(os.path.join(real, "config.json")))
    args = dict(vocab_size=base["vocab_size"], d_model=16, encoder_layers=1, decoder_layers=2, encoder_attention_heads=2,
                decoder_attention_heads=4, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
                activation_function="relu", forced_bos_token_id=tok.get_lang_id("fr"))
    set_seed(SEED)
    model = transformers.M2M100ForConditionalGeneration(transformers.M2M100Config(**args))
    save(model, tok, "m2m100_asym", {"class": "M2M100ForConditionalGeneration", "config_args": args,
                                     "tokenizer": "M2M100Tokenizer of tests/fixtures/parity-real/models/m2m100"},
         tokenizer_files_from=real)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
