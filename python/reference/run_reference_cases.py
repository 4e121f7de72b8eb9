"""Runs attribution cases with the real Python Inseq and saves its outputs as reference fixtures.

Usage (with a Python environment that has inseq, transformers and torch; see environment.yml):
    python python/reference/run_reference_cases.py CASES.json MODELS_ROOT OUTPUT_DIR

CASES.json is a list of {"id", "model", "method", "attribute": {...model.attribute kwargs...}}. Models are loaded as
"models/<model>" from MODELS_ROOT (the working directory during the run, so info.model_name is "models/<model>").
OUTPUT_DIR receives attributions/<id>.json (out.save), attributions/<id>.aggregated.json (out.aggregate().save) and
manifest.json in the layout of tests/fixtures/parity/manifest.json. A case that raises is recorded with its error.
Seeds: transformers.set_seed(seed) before load_model and again before attribute, as the parity fixtures did.
"""
import copy
import json
import os
import platform
import sys
import traceback

import torch

torch.set_num_threads(1)
import inseq  # noqa: E402
import transformers  # noqa: E402
from transformers import set_seed  # noqa: E402


def main() -> None:
    cases_path, models_root, out_dir = (os.path.abspath(p) for p in sys.argv[1:4])
    cases = json.load(open(cases_path, encoding="utf-8"))
    os.makedirs(os.path.join(out_dir, "attributions"), exist_ok=True)
    os.chdir(models_root)
    results = []
    for case in cases:
        entry = dict(case)
        entry["load_model"] = {
            "model_name_or_path": f"models/{case['model']}",
            "attribution_method": case["method"],
            "tokenizer_kwargs": {"use_fast": False},
        }
        seed = case.get("attribution_seed", 0)
        entry["attribution_seed"] = seed
        raw = os.path.join("attributions", case["id"] + ".json")
        aggregated = os.path.join("attributions", case["id"] + ".aggregated.json")
        try:
            set_seed(seed)
            load = entry["load_model"]
            model = inseq.load_model(load["model_name_or_path"], load["attribution_method"], tokenizer_kwargs=load["tokenizer_kwargs"])
            set_seed(seed)
            kwargs = copy.deepcopy(case["attribute"])
            if isinstance(kwargs.get("contrast_targets_alignments"), list):
                # JSON has no tuples; Inseq wants (original, contrast) tuples in a list per sequence.
                kwargs["contrast_targets_alignments"] = [[tuple(p) for p in seq] for seq in kwargs["contrast_targets_alignments"]]
            out = model.attribute(**kwargs, show_progress=False)
            out.save(os.path.join(out_dir, raw), overwrite=True)
            if "aggregate" in case:
                # A custom pipeline, as aggregate(aggregator=[...], aggregate_fn=[...]) takes it.
                out.aggregate(**case["aggregate"]).save(os.path.join(out_dir, aggregated), overwrite=True)
            else:
                out.aggregate().save(os.path.join(out_dir, aggregated), overwrite=True)
            entry.update(ok=True, error=None, output_file=raw, aggregated_file=aggregated)
        except Exception as e:  # recorded, not hidden: the manifest says which cases Inseq rejects
            entry.update(ok=False, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(limit=3),
                         output_file=None, aggregated_file=None)
        results.append(entry)
        print(f"{case['id']}: {'OK' if entry['ok'] else entry['error']}", flush=True)
    manifest = {
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "inseq": inseq.__version__ if hasattr(inseq, "__version__") else "unknown",
            "transformers": transformers.__version__,
        },
        "cases": results,
    }
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
