"""Reference outputs of Inseq 0.6 for the attribute options and aggregator arguments (tests/fixtures/attribute-options).

Usage (reference stack: inseq 0.6, transformers 4.39, torch; offline):
    python python/reference/make_attribute_options_cases.py tests/fixtures/parity tests/fixtures/attribute-options

Writes, under OUTPUT_DIR:
  prefix_<model>_<n>.json       model.attribute(..., generated_texts=PREFIXES, generate_from_target_prefix=True)
  prefix_manifest.json          the calls, with the texts generate() produced
  clean_tokens.json             model.clean_tokens(tokens[, as_targets]) for the tokens of a few texts per model
  agg_base.json, agg_paired.json  two forced Marian attributions of equal shapes (attribute_target=True)
  agg_<name>.json               agg_base aggregated as named in agg_manifest.json (spans, subwords, scores, pair,
                                normalize=False); slices_* are computed here by plain tensor slicing (Inseq 0.6 has no
                                slices aggregator) from agg_base's default aggregation.
"""
import json
import os
import sys

import torch

torch.set_num_threads(1)
import inseq  # noqa: E402
from inseq.data import FeatureAttributionOutput  # noqa: E402
from transformers import set_seed  # noqa: E402


def clean_or_error(model, tokens, as_targets):
    try:
        return model.clean_tokens(tokens, skip_special_tokens=True, as_targets=as_targets)
    except Exception as e:  # noqa: BLE001 - recorded: some slow tokenizers fail on an all-special list
        return f"error: {type(e).__name__}"


def main() -> None:
    models_root, out_dir = (os.path.abspath(p) for p in sys.argv[1:3])
    os.makedirs(out_dir, exist_ok=True)
    os.chdir(models_root)

    def load(name, method="saliency"):
        set_seed(0)
        return inseq.load_model(f"models/{name}", method, tokenizer_kwargs={"use_fast": False})

    # 1. generate_from_target_prefix (encoder-decoders only).
    prefix_cases = [
        ("marian", ["The cursor moves to the line."], ["Le curseur"], {"max_new_tokens": 5}),
        ("marian", ["The cursor moves to the line.", "Hello world"], ["Le curseur se", "Bonjour"], {"max_new_tokens": 4}),
        ("bart", ["The cursor moves to the line."], ["The cursor"], {"max_new_tokens": 5}),
    ]
    manifest = []
    for n, (name, inputs, prefixes, gen) in enumerate(prefix_cases):
        model = load(name)
        set_seed(0)
        out = model.attribute(
            list(inputs), list(prefixes), generate_from_target_prefix=True, generation_args=dict(gen), show_progress=False
        )
        path = f"prefix_{name}_{n}.json"
        out.save(os.path.join(out_dir, path), overwrite=True)
        decoder_input = model.encode(list(prefixes), as_targets=True)
        manifest.append({
            "model": name, "input_texts": inputs, "prefixes": prefixes, "generation_args": gen,
            "decoder_input_ids": decoder_input.input_ids.tolist(),
            "generated_texts": out.info["generated_texts"], "output_file": path,
        })
    json.dump(manifest, open(os.path.join(out_dir, "prefix_manifest.json"), "w"), indent=1, ensure_ascii=False)

    # 2. clean_tokens: what Inseq 0.7's clean_special_chars applies to every token list.
    texts = ["The cursor moves to the line.", "Hello world, this is a test", "Le curseur se déplace sur la ligne."]
    clean = []
    for name in ["marian", "bart", "gpt2", "t5"]:
        model = load(name)
        for as_targets in ([False, True] if model.is_encoder_decoder else [False]):
            for text in texts:
                enc = model.encode([text], as_targets=as_targets)
                tokens = enc.input_tokens[0]
                clean.append({
                    "model": name, "as_targets": as_targets, "text": text, "tokens": tokens,
                    "clean": model.clean_tokens(tokens, as_targets=as_targets),
                    "clean_skip_special": clean_or_error(model, tokens, as_targets),
                })
    json.dump(clean, open(os.path.join(out_dir, "clean_tokens.json"), "w"), indent=1, ensure_ascii=False)

    # 3. Aggregator arguments on one forced attribution with target attributions.
    model = load("marian")
    set_seed(0)
    base = model.attribute(["The cursor moves to the line."], ["Le curseur se déplace sur la ligne."], attribute_target=True, step_scores=["probability"], show_progress=False)
    set_seed(0)
    paired = model.attribute(["The cursor goes to the line."], ["Le curseur se déplace sur la ligne."], attribute_target=True, step_scores=["probability"], show_progress=False)
    base.save(os.path.join(out_dir, "agg_base.json"), overwrite=True)
    paired.save(os.path.join(out_dir, "agg_paired.json"), overwrite=True)
    b, p = base.sequence_attributions[0], paired.sequence_attributions[0]
    agg_manifest = {}

    def save(name, seq, call):
        FeatureAttributionOutput(sequence_attributions=[seq], info=base.info).save(os.path.join(out_dir, f"agg_{name}.json"), overwrite=True)
        agg_manifest[name] = call

    save("spans", b.aggregate(["scores", "spans"], source_spans=[(0, 2)], target_spans=[(1, 3)]),
         {"aggregator": ["scores", "spans"], "args": {"source_spans": [[0, 2]], "target_spans": [[1, 3]]}})
    save("subwords", b.aggregate(["scores", "subwords"], special_chars="▁"),
         {"aggregator": ["scores", "subwords"], "args": {"special_chars": "▁"}})
    save("scores_max", b.aggregate("scores", aggregate_fn="max"), {"aggregator": ["scores"], "aggregate_fn": ["max"], "args": {}})
    save("scores_unnormalized", b.aggregate("scores", normalize=False), {"aggregator": ["scores"], "args": {"normalize": False}})
    save("pair", b.aggregate(["scores", "pair"], paired_attr=p.aggregate("scores")),
         {"aggregator": ["scores", "pair"], "args": {"paired_attr": "agg_paired.json (scores-aggregated)"}})
    # Slices by plain tensor slicing: source rows [1, 4) of the default (scores) aggregation, all else unchanged.
    s = b.aggregate()
    sliced = {
        "source": [t.token for t in s.source[1:4]],
        "source_attributions": s.source_attributions[1:4].tolist(),
    }
    json.dump(sliced, open(os.path.join(out_dir, "slices_source_1_4.json"), "w"), indent=1, ensure_ascii=False)
    json.dump(agg_manifest, open(os.path.join(out_dir, "agg_manifest.json"), "w"), indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
