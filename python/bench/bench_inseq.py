"""Times Python Inseq on a saved checkpoint for `inseq-bridge bench` (which spawns this script).

Prints one JSON object on the last line of stdout:
{"times": {"<method>": [seconds, ...]}, "growth": {"<method>": {"<length>": seconds}},
 "peak_rss_mb": float, "threads": int, "torch": str, "blas": str}
"""
import argparse
import json
import os
import re
import resource
import statistics
import sys
import time


def inseq_version(module) -> str:
    """inseq.__version__, else the installed distribution's version, else "unknown" (a source checkout)."""
    version = getattr(module, "__version__", None)
    if version:
        return str(version)
    try:
        from importlib.metadata import version as dist_version

        return dist_version("inseq")
    except Exception:  # noqa: BLE001 - any failure means the version is not recorded
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--generated", required=True)
    parser.add_argument("--methods", required=True)
    parser.add_argument("--n-steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--growth", default="", help="JSON {length: generated_text} for the cost-growth runs")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import inseq

    times = {}
    growth = {}
    growth_texts = json.loads(args.growth) if args.growth else {}
    for method in args.methods.split(","):
        model = inseq.load_model(args.model, method, tokenizer_kwargs={"use_fast": False})
        kwargs = {"n_steps": args.n_steps} if method == "integrated_gradients" else {}

        def run(generated: str) -> float:
            start = time.perf_counter()
            model.attribute(
                input_texts=[args.input], generated_texts=[generated], show_progress=False, **kwargs
            )
            return time.perf_counter() - start

        run(args.generated)  # warm-up
        times[method] = [run(args.generated) for _ in range(args.repeats)]
        if method in ("saliency", "integrated_gradients") and growth_texts:
            growth[method] = {length: run(text) for length, text in growth_texts.items()}

    config = torch.__config__.show()
    blas = sorted(set(re.findall(r"\b(BLAS_INFO=\w+|LAPACK_INFO=\w+|Intel\(R\) [^\n]*Math Kernel Library[^\n]*)", config)))
    alternative = "/etc/alternatives/libblas.so.3-x86_64-linux-gnu"
    if os.path.exists(alternative):
        blas.append("libblas.so.3 -> " + os.path.realpath(alternative))
    result = {
        "times": times,
        "median": {m: statistics.median(t) for m, t in times.items()},
        "growth": growth,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "inseq": inseq_version(inseq),
        "blas": "; ".join(blas),
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
