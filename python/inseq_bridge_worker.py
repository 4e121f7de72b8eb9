"""Python half of InseqBridge's pythonnet backend.

The .NET side (src/InseqBridge.Python) imports this module inside an embedded interpreter (in a worker process by
default) and calls the functions below. Arguments and results cross the boundary as JSON strings and raw byte
buffers (``bytes`` / ``bytearray``), never as per-element conversions.

Only the standard library is imported at module load: torch, transformers and inseq are imported on first use, so
the .NET side can report precisely which of them is missing.
"""

import importlib
import json
import os
import sys
import tempfile
import time
import traceback

_MODELS = {}


def _version_of(module_name):
    """(version, error) of an importable module; version is None when the import fails."""
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:  # noqa: BLE001 - any import failure is reported, not raised
        return None, f"{type(exc).__name__}: {exc}"
    version = getattr(module, "__version__", None)
    if version is None:
        try:
            from importlib.metadata import version as dist_version

            version = dist_version(module_name)
        except Exception:  # noqa: BLE001
            version = "unknown"
    return str(version), None


def probe(modules_json):
    """Reports the interpreter and the versions (or import errors) of the requested modules as a JSON string."""
    modules = json.loads(modules_json)
    result = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "prefix": sys.prefix,
        "modules": {},
    }
    for name in modules:
        version, error = _version_of(name)
        result["modules"][name] = {"version": version, "error": error}
    return json.dumps(result)


def load_model(handle, model_path, method, load_kwargs_json):
    """inseq.load_model(model_path, method, **load_kwargs); returns the model's names as a JSON string."""
    import inseq

    load_kwargs = json.loads(load_kwargs_json) if load_kwargs_json else {}
    model = inseq.load_model(model_path, method, **load_kwargs)
    _MODELS[handle] = model
    info = dict(model.info) if hasattr(model, "info") else {}
    hf_model = getattr(model, "model", None)
    tokenizer = getattr(model, "tokenizer", None)
    return json.dumps(
        {
            "model_name": info.get("model_name", model_path),
            "model_class": info.get("model_class", type(hf_model).__name__ if hf_model is not None else ""),
            "tokenizer_name": info.get("tokenizer_name"),
            "tokenizer_class": info.get("tokenizer_class", type(tokenizer).__name__ if tokenizer is not None else ""),
            "is_encoder_decoder": bool(getattr(model, "is_encoder_decoder", False)),
            "default_method": method,
        }
    )


def unload_model(handle):
    """Forgets a loaded model."""
    _MODELS.pop(handle, None)


def attribute(handle, kwargs_json, seed, load_json):
    """model.attribute(**kwargs) after transformers.set_seed(seed); returns the bytes of ``out.save(...)``.

    ``load_json`` ({"model", "method", "load_kwargs"}) loads the model first when this interpreter does not hold it
    (e.g. after the .NET side restarted a crashed worker).
    """
    from transformers import set_seed

    if handle not in _MODELS:
        load = json.loads(load_json)
        load_model(handle, load["model"], load["method"], json.dumps(load.get("load_kwargs") or {}))
    model = _MODELS[handle]
    kwargs = json.loads(kwargs_json)
    set_seed(int(seed))
    out = model.attribute(**kwargs)
    fd, path = tempfile.mkstemp(prefix="inseq-bridge-", suffix=".json")
    os.close(fd)
    try:
        out.save(path, overwrite=True)
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.remove(path)


# ---- operations used by the bridge's own tests (need only Python and torch) ----
# They run only after enable_test_operations(), which the .NET side calls only when the backend was started with
# PythonBackendOptions.EnableTestOperations.

_TEST_OPERATIONS = False


def enable_test_operations():
    """Allows the test_* functions in this interpreter (the .NET side's explicit test switch)."""
    global _TEST_OPERATIONS
    _TEST_OPERATIONS = True


def _require_test_operations(name):
    if not _TEST_OPERATIONS:
        raise RuntimeError(f"{name} is a test operation; enable the backend's test operations to run it")


def test_scale(buffer, factor):
    """Reads a raw float32 buffer with torch, multiplies it, returns the raw float32 bytes of the result."""
    _require_test_operations("test_scale")
    import torch

    values = torch.frombuffer(buffer, dtype=torch.float32)
    return (values * float(factor)).numpy().tobytes()


def test_fail(message):
    """Raises ValueError(message) from a nested call, so the traceback has several frames."""
    _require_test_operations("test_fail")

    def inner():
        raise ValueError(message)

    inner()


def test_sleep(seconds):
    """Sleeps in short slices (interruptible by the bridge's cancellation)."""
    _require_test_operations("test_sleep")
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        time.sleep(0.01)
    return "slept"


def test_hang_native(seconds):
    """Blocks inside one native call without returning to Python bytecode (cannot be interrupted)."""
    _require_test_operations("test_hang_native")
    import torch

    del torch  # imported only to prove torch loads in this process
    import ctypes

    libc = ctypes.CDLL(None)
    libc.sleep(int(seconds))
    return "woke"


def test_crash(kind):
    """Ends the process abruptly: 'abort' (SIGABRT), 'exit' (os._exit(3)) or 'segfault'."""
    _require_test_operations("test_crash")
    sys.stderr.write(f"inseq_bridge_worker: crashing on purpose ({kind})\n")
    sys.stderr.flush()
    if kind == "abort":
        os.abort()
    if kind == "segfault":
        import ctypes

        ctypes.string_at(0)
    os._exit(3)


def format_exception(exc):
    """Formats an exception with its traceback (used by the .NET side for errors raised outside this module)."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
