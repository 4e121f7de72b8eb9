"""Times Python Inseq on a list of input texts for `inseq-bridge bench --dataset` (which spawns this script).

One batched `model.attribute` call over all rows per method (Inseq's way of attributing a dataset), with the same
generation length and integrated-gradients steps as the native side. Prints one JSON object on the last line:
{"seconds": {"<method>": float}, "batch_sizes": {"<method>": int}, "notes": {"<method>": str}, "rows": int, "torch": str, "inseq": str, "threads": int}
"""
import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--rows", required=True, help="file with one input text per line")
    parser.add_argument("--methods", required=True)
    parser.add_argument("--n-steps", type=int, default=50)
    parser.add_argument("--max-new-tokens", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import inseq

    with open(args.rows, encoding="utf-8") as handle:
        texts = [line.rstrip("\n") for line in handle if line.strip()]
    seconds = {}
    batch_sizes = {}
    notes = {}
    for method in args.methods.split(","):
        model = inseq.load_model(args.model, method, tokenizer_kwargs={"use_fast": False})
        kwargs = {"n_steps": args.n_steps} if method == "integrated_gradients" else {}
        model.attribute(input_texts=texts[:2], generation_args={"max_new_tokens": args.max_new_tokens}, show_progress=False, **kwargs)

        def timed(batch_size: int) -> float:
            start = time.perf_counter()
            model.attribute(
                input_texts=texts,
                batch_size=batch_size,
                generation_args={"max_new_tokens": args.max_new_tokens},
                show_progress=False,
                **kwargs,
            )
            return time.perf_counter() - start

        try:
            seconds[method] = timed(args.batch_size)
            batch_sizes[method] = args.batch_size
        except AttributeError as error:
            # Inseq 0.6 fails on batches of decoder-only generations that end at different steps
            # ('DecoderOnlyBatch' object has no attribute 'sources', in remap_from_filtered): one row per call is
            # what its users can do there.
            notes[method] = f"batched call failed ({error}); timed with batch_size=1"
            seconds[method] = timed(1)
            batch_sizes[method] = 1
    print(json.dumps({
        "seconds": seconds,
        "batch_sizes": batch_sizes,
        "notes": notes,
        "rows": len(texts),
        "torch": torch.__version__,
        "inseq": getattr(inseq, "__version__", "unknown"),
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
