"""What the machine is: CPU model and features, how the installed TensorFlow build uses them, GPUs, backend."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from typing import TypedDict

FEATURES = {
    "avx": "AVX",
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "fma": "FMA",
    "avx512_bf16": "AVX512_BF16",
    "amx_bf16": "AMX",
}
# TensorFlow's names in its cpu_feature_guard report → ours
TF_NAMES = {
    "AVX": "AVX",
    "AVX2": "AVX2",
    "AVX512F": "AVX-512",
    "FMA": "FMA",
    "AVX512_BF16": "AVX512_BF16",
    "AMX_BF16": "AMX",
    "AMX_TILE": "AMX",
}


def _read_cpuinfo() -> tuple[str, set[str]]:
    """The CPU model name and feature flags from /proc/cpuinfo, in one pass (empty where unavailable)."""
    model = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model in ("", platform.machine()):
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model, flags


def cpu_flags() -> set[str]:
    return _read_cpuinfo()[1]


def cpu_count() -> int:
    """CPUs this process may run on (a container's limit, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def memory_bytes() -> int:
    """Physical memory in bytes (0 where unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def cpu_info() -> dict:
    model, flags = _read_cpuinfo()
    return {"model": model, "cores": cpu_count(), "features": {name: flag in flags for flag, name in FEATURES.items()}}


class TfReport(TypedDict, total=False):
    """What `tensorflow_cpu_report` found; `onednn` and `not_compiled_in` only when TensorFlow is available."""

    available: bool
    onednn: bool  # oneDNN's custom operations are on
    not_compiled_in: list[str]  # our FEATURES names the build leaves to oneDNN's JIT


def tensorflow_cpu_report(timeout: float = 60.0) -> TfReport:
    """Ask the installed TensorFlow build which CPU instructions it uses: it says so in its start-up log.

    The feature guard lists instructions the CPU has but the build was not compiled for ("in other
    operations"); oneDNN still uses them in the performance-critical kernels through its JIT.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0", CUDA_VISIBLE_DEVICES="")
    try:
        out = subprocess.run(
            [sys.executable, "-c", "import tensorflow"], env=env, capture_output=True, text=True, timeout=timeout
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return {"available": False}
    report: TfReport = {"available": True, "onednn": "oneDNN custom operations are on" in out, "not_compiled_in": []}
    m = re.search(r"To enable the following instructions: ([A-Z0-9_ ]+), in other operations", out)
    if m:
        report["not_compiled_in"] = sorted({TF_NAMES.get(x, x) for x in m.group(1).split()})
    return report


def gpus(backend_name: str) -> list[dict]:
    """GPUs with their memory, as the active Keras backend sees them (nvidia-smi as a fallback)."""
    found: list[dict] = []
    try:
        if backend_name == "jax":
            import jax

            for d in jax.devices():
                if d.platform == "gpu":
                    stats = d.memory_stats() or {}
                    found.append({"name": d.device_kind, "memory_gb": stats.get("bytes_limit", 0) / 2**30})
        elif backend_name == "torch":
            import torch

            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                found.append({"name": p.name, "memory_gb": p.total_memory / 2**30})
        elif backend_name == "tensorflow":
            import tensorflow as tf

            for d in tf.config.list_physical_devices("GPU"):
                details = tf.config.experimental.get_device_details(d)
                found.append({"name": details.get("device_name", d.name), "memory_gb": None})
    except Exception:  # a broken driver must not break the report
        pass
    if (found and all(g["memory_gb"] for g in found)) or not shutil.which("nvidia-smi"):
        return found
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout
        smi = [
            {"name": n.strip(), "memory_gb": float(m) / 1024}
            for n, m in (line.rsplit(",", 1) for line in out.strip().splitlines() if "," in line)
        ]
        return smi or found
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return found


def describe_machine(backend_name: str) -> dict:
    cpu = cpu_info()
    tf_report: TfReport = tensorflow_cpu_report() if backend_name == "tensorflow" else {"available": False}
    uses = {}
    for name, present in cpu["features"].items():
        if not present:
            uses[name] = "not on this CPU"
        elif not tf_report.get("available"):
            uses[name] = "present"
        elif name in tf_report["not_compiled_in"]:
            uses[name] = "used by oneDNN kernels only" if tf_report.get("onednn") else "not used by this build"
        else:
            uses[name] = "used"
    return {
        "cpu": cpu["model"],
        "cores": cpu["cores"],
        "cpu_features": uses,
        "gpus": gpus(backend_name),
        "backend": backend_name,
    }


def format_machine(info: dict) -> str:
    feats = ", ".join(f"{k} {v}" for k, v in info["cpu_features"].items())
    gpu_text = (
        "; ".join(f"{g['name']} ({g['memory_gb']:.0f} GB)" if g.get("memory_gb") else g["name"] for g in info["gpus"])
        or "none"
    )
    return (
        f"CPU       {info['cpu']}, {info['cores']} cores\n"
        f"features  {feats}\n"
        f"GPUs      {gpu_text}\n"
        f"backend   Keras on {info['backend']}"
    )


def gpu_device_present() -> bool:
    """Whether this machine could have a GPU for the backend: an NVIDIA, ROCm or WSL device node, and CUDA not
    hidden by CUDA_VISIBLE_DEVICES. Cheap (no backend import); False means the backend would find none either."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    try:
        names = os.listdir("/dev")
    except OSError:
        return True  # cannot tell: let the backend decide
    return any(re.fullmatch(r"nvidia\d+|kfd|dxg", n) for n in names)
