"""Times transformers' from_pretrained of a checkpoint folder and reports the peak RSS of this process.

Used by `inseq-bridge bench --only llama-3.2-1b --python PYTHON`; prints one JSON line:
{"load_s", "peak_rss_mb", "forward_ok", "versions"}. Each dtype runs in its own process so peaks are independent.
"""
import argparse
import json
import resource
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    args = parser.parse_args()

    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    dtype = getattr(torch, args.dtype)
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=dtype, attn_implementation="eager")
    model.eval()
    load_s = time.perf_counter() - start
    load_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[1, 2, 3]])).logits
    print(json.dumps({
        "load_s": load_s,
        "peak_rss_mb": load_rss,
        "forward_ok": bool(torch.isfinite(logits).all()),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }))


if __name__ == "__main__":
    main()
