"""The seam between lstmgen and the Keras backend: quiet start-up, seeding, and speed settings.

Everything backend-specific lives here so the model, training and sampling code stays plain Keras 3.
"""

from __future__ import annotations

import contextlib
import os

from lstmgen.runtime.hardware import cpu_count, cpu_flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def muted_stderr():
    """Point file descriptor 2 at /dev/null: TensorFlow's C++ layer prints INFO lines (oneDNN, CUDA probing)
    before absl logging is initialised, which no environment variable suppresses. Python-level errors still
    surface as exceptions once stderr is restored. LSTMGEN_DEBUG=1 shows everything."""
    if os.environ.get("LSTMGEN_DEBUG"):
        yield
        return
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():
    """TensorFlow, imported (and its devices probed) with the start-up chatter muted; also under JAX/torch."""
    with muted_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()
    return tf


BACKENDS = ("tensorflow", "jax", "torch")  # what lstmgen trains and samples with


def check_backend_choice(name: str | None) -> None:
    """Refuse a KERAS_BACKEND that is not one of BACKENDS or is not installed, saying which are."""
    import importlib.util

    from lstmgen.errors import LstmgenError

    if name is None:
        return
    installed = [b for b in BACKENDS if importlib.util.find_spec(b) is not None]
    have = f"installed here: {', '.join(installed)}" if installed else "none is installed here"
    if name not in BACKENDS:
        raise LstmgenError(
            f"KERAS_BACKEND={name!r} is not a backend lstmgen can use; set it to tensorflow, jax or "
            f"torch ({have}), or unset it"
        )
    if name not in installed:
        raise LstmgenError(f"KERAS_BACKEND={name} but {name} is not installed ({have}); install it or choose another")


def check_steps_per_execution(steps: int) -> None:
    """Refuse more than one step per execution on the torch backend, whose Keras runs one step per call (Keras'
    own ValueError would otherwise come from `compile`, after the run is made)."""
    if steps > 1 and keras.backend.backend() == "torch":
        from lstmgen.errors import ConfigError

        raise ConfigError(
            f"--steps-per-execution {steps} needs the tensorflow or jax backend: Keras runs one step per call on "
            "torch (the backend train picks when torch is installed and none is named); use 1, or set "
            "KERAS_BACKEND=tensorflow"
        )


check_backend_choice(os.environ.get("KERAS_BACKEND") or None)  # Keras ignores an empty one too
with muted_stderr():
    try:
        import keras
    except (ImportError, ValueError) as _e:  # e.g. a backend named in ~/.keras/keras.json that cannot be imported
        from lstmgen.errors import LstmgenError

        raise LstmgenError(
            f"cannot start Keras ({str(_e)[:120]}); set KERAS_BACKEND to tensorflow, jax or torch"
        ) from None
check_backend_choice(keras.backend.backend())
if keras.backend.backend() == "tensorflow":
    import_tensorflow()
NAME = keras.backend.backend()


def has_gpu() -> bool:
    if NAME == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if NAME == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if NAME == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and the backend; make TensorFlow ops deterministic when asked."""
    with muted_stderr():  # under JAX/torch this lazily imports TensorFlow (to seed it too)
        keras.utils.set_random_seed(seed)
    if deterministic and NAME == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def resolve_jit(setting: str, precision: str) -> bool | str:
    """`auto` → what measured fastest. On the TensorFlow CPU path XLA gave no gain in float32 and made
    mixed_bfloat16 4× slower (bench/speed_paths.py), so it stays off there; elsewhere Keras decides."""
    if setting == "on":
        return True
    if setting == "off":
        return False
    if NAME == "tensorflow" and not has_gpu():
        return False
    return "auto"


def bf16_capable() -> bool:
    """CPUs with native bf16 arithmetic (AVX512_BF16 or AMX) run mixed_bfloat16 about 2× faster; GPUs too."""
    if has_gpu():
        return True
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def set_precision(setting: str, stateful: bool = False) -> str:
    """`auto` → mixed_bfloat16 where the hardware computes bf16 natively, float32 elsewhere, and float32 for
    stateful training on torch: torch's LSTM kernels (fused and Keras' loop alike) keep h and c in bf16 from step to
    step, so the state carried between batches drifts (0.02–0.04 from the exact state after 28 steps of a toy model,
    against 1e-4 on TensorFlow), and the embedded Reber check falls from 99 % valid strings to 48–78 % (3 seeds).
    Returns the policy, with the reason when `auto` passed over bf16 for that."""
    kept_float32 = setting == "auto" and stateful and NAME == "torch" and bf16_capable()
    use_bf16 = setting == "bf16" or (setting == "auto" and bf16_capable() and not kept_float32)
    policy = "mixed_bfloat16" if use_bf16 else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy + (" (auto: --stateful on torch carries the LSTM state in bf16 otherwise)" if kept_float32 else "")


def fit_input(data):
    """What `fit`/`evaluate` should iterate for a PyDataset. Under TensorFlow: the same batches as a tf.data
    pipeline with autotuning off. Keras wraps a PyDataset with prefetch(AUTOTUNE), and destroying an autotuned
    iterator, which happens when every fit/evaluate call returns, waits for the autotune thread's next wake-up:
    up to 26 s at the end of a 55 s epoch (measured with py-spy on the CPU default config). Elsewhere: as is."""
    if NAME != "tensorflow" or len(data) == 0:
        return data
    import tensorflow as tf

    spec = tf.nest.map_structure(lambda a: tf.TensorSpec((None, *a.shape[1:]), tf.as_dtype(a.dtype)), data[0])
    ds = tf.data.Dataset.from_generator(lambda: (data[i] for i in range(len(data))), output_signature=spec)
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.apply(tf.data.experimental.assert_cardinality(len(data))).prefetch(2).with_options(options)


def auto_threads() -> int:
    """TensorFlow on a CPU: one intra-op thread fewer than the CPUs, leaving one for the Python thread that feeds
    batches and runs callbacks. On 2 cores 1 thread ran the default model 1.05-1.3x faster than TensorFlow's
    default of 2 (bench/speed_paths.py). 0 (leave the backend's default) elsewhere."""
    if NAME == "tensorflow" and not has_gpu():
        return max(cpu_count() - 1, 1)
    return 0


def set_threads(n: int) -> str:
    """Size the backend's CPU thread pool (0: auto_threads) and say what is in effect."""
    want = n or auto_threads()
    how = "" if n else " (auto)"
    if NAME == "tensorflow":
        import tensorflow as tf

        threading = tf.config.threading
        if want and threading.get_intra_op_parallelism_threads() != want:
            try:
                threading.set_intra_op_parallelism_threads(want)
            except RuntimeError:  # TensorFlow's runtime already started in this process (tests, notebooks)
                now = threading.get_intra_op_parallelism_threads() or cpu_count()
                if not n:
                    return f"threads {now}"
                return f"threads {now} (--threads {n} not applied: TensorFlow was already initialised in this process)"
        return f"threads {threading.get_intra_op_parallelism_threads() or cpu_count()}{how}"
    if NAME == "torch":
        import torch

        if want:
            torch.set_num_threads(want)
        return f"threads {torch.get_num_threads()}"
    if n:
        return f"threads: --threads {n} not applied ({NAME} sizes its pool at start-up; use XLA_FLAGS)"
    return f"threads {cpu_count()}"


def describe() -> str:
    device = "GPU" if has_gpu() else "CPU"
    return f"Keras {keras.__version__} on {NAME} ({device})"
