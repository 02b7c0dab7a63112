"""Synthetic training logs with a known timeline, written the way Keras 1/2/3, tqdm and lstmgen write them.

A `Timeline` says when every step of every epoch ended; each writer turns it into `(time, bytes)` chunks so a
test can cut the log at any moment and compare an estimate with the truth.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

T0 = datetime(2024, 7, 25, 10, 40, 0).timestamp()  # a Thursday, far from any DST change


@dataclass
class Timeline:
    epochs: int
    steps: int
    starts: list[float]  # seconds after T0 when each epoch began
    step_ends: list[list[float]]  # seconds after T0 when each step ended
    ends: list[float]  # when each epoch ended, validation included

    @property
    def end(self) -> float:
        return self.ends[-1]


def timeline(
    epochs=10,
    steps=100,
    step_s=0.5,
    *,
    compile_s=8.0,
    val_s=0.0,
    startup_s=20.0,
    noise=0.0,
    factor=lambda epoch: 1.0,
    seed=0,
) -> Timeline:
    rng = random.Random(seed)
    t, starts, step_ends, ends = startup_s, [], [], []
    for e in range(1, epochs + 1):
        starts.append(t)
        f = factor(e) * max(0.5, 1 + noise * rng.gauss(0, 1))
        row = []
        for s in range(1, steps + 1):
            t += step_s * f * max(0.2, 1 + 0.1 * rng.gauss(0, 1)) + (compile_s if e == 1 and s == 1 else 0)
            row.append(t)
        step_ends.append(row)
        t += val_s * f
        ends.append(t)
    return Timeline(epochs, steps, starts, step_ends, ends)


def cut(chunks: list[tuple[float, bytes]], at: float) -> bytes:
    return b"".join(b for t, b in chunks if t <= at)


def _eta(eta: float) -> str:
    if eta > 3600:
        return f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"


def _per(tpu: float, unit: str = "step") -> str:
    if tpu >= 1 or tpu == 0:
        return f"{tpu:.0f}s/{unit}"
    if tpu >= 1e-3:
        return f"{tpu * 1e3:.0f}ms/{unit}"
    return f"{tpu * 1e6:.0f}us/{unit}"


def _tpu(tl: Timeline, e: int, cur: int, now: float) -> float:
    """Keras' time per unit: average since step 1 ended (step 1 alone: its own time)."""
    if cur > 1:
        return (now - tl.step_ends[e][0]) / (cur - 1)
    return now - tl.starts[e]


def keras3(tl: Timeline, verbose=1, interval=0.05, headers=True, metrics=" - loss: 2.7043") -> list:
    out = []
    for e in range(tl.epochs):
        if headers and tl.epochs > 1:
            out.append((tl.starts[e], f"Epoch {e + 1}/{tl.epochs}\n".encode()))
        nd = len(str(tl.steps))
        last, prev = -1.0, 0
        for s, now in enumerate(tl.step_ends[e], 1):
            final = s == tl.steps
            if final:
                now = tl.ends[e]
            tpu = _tpu(tl, e, s, now)
            if verbose == 2:
                if final:
                    line = f"{s:>{nd}}/{tl.steps} - {now - tl.starts[e]:.0f}s - {_per(tpu)}{metrics}\n"
                    out.append((now, line.encode()))
                continue
            if now - last < interval and not final:
                continue
            last = now
            pw = int(20 * s / tl.steps)
            bar = f"\x1b[1m{s:>{nd}}/{tl.steps}\x1b[0m " + ("\x1b[32m" + "━" * pw + "\x1b[0m" if pw else "")
            bar += "\x1b[37m" + "━" * (20 - pw) + "\x1b[0m"
            info = (
                f" \x1b[1m{now - tl.starts[e]:.0f}s\x1b[0m" if final else f" \x1b[1m{_eta(tpu * (tl.steps - s))}\x1b[0m"
            )
            msg = "\b" * prev + "\r" + bar + info + " " + _per(tpu) + metrics + ("\n" if final else "")
            prev = len(bar) + len(info) + 20
            out.append((now, msg.encode()))
    return out


def keras2(tl: Timeline, tty=True, unit="step", metrics=" - loss: 1.2345", interval=0.05) -> list:
    out = []
    for e in range(tl.epochs):
        out.append((tl.starts[e], f"Epoch {e + 1}/{tl.epochs}\n".encode()))
        nd = len(str(tl.steps))
        last, prev = -1.0, 0
        for s, now in enumerate(tl.step_ends[e], 1):
            final = s == tl.steps
            if final:
                now = tl.ends[e]
            if now - last < interval and not final:
                continue
            last = now
            tpu = _tpu(tl, e, s, now)
            pw = int(30 * s / tl.steps)
            bar = f"{s:>{nd}}/{tl.steps} [" + ("=" * (pw - 1) + ("=" if final else ">") if pw else "")
            bar += "." * (30 - pw) + "]"
            info = (
                f" - {now - tl.starts[e]:.0f}s {_per(tpu, unit)}" if final else f" - ETA: {_eta(tpu * (tl.steps - s))}"
            )
            lead = ("\b" * prev + "\r") if tty else "\n" if s > 1 else ""
            out.append((now, (lead + bar + info + metrics + ("\n" if final else "")).encode()))
            prev = len(bar) + len(info + metrics)
    return out


def keras1_verbose2(tl: Timeline, dash=True) -> list:
    out = []
    for e in range(tl.epochs):
        out.append((tl.starts[e], f"Epoch {e + 1}/{tl.epochs}\n".encode()))
        lead = " - " if dash else ""
        out.append((tl.ends[e], f"{lead}{tl.ends[e] - tl.starts[e]:.0f}s - loss: 0.6931 - acc: 0.5\n".encode()))
    return out


def _clock(sec: float) -> str:
    sec = int(sec)
    h, m, s = sec // 3600, sec % 3600 // 60, sec % 60
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def tqdm_bars(tl: Timeline, desc=True, interval=0.1, val_steps=0) -> list:
    out = []
    for e in range(tl.epochs):
        last = -1.0
        d = f"Epoch {e + 1}/{tl.epochs}: " if desc else ""
        out.append((tl.starts[e], f"\r{d}  0%|          | 0/{tl.steps} [00:00<?, ?it/s]".encode()))
        for s, now in enumerate(tl.step_ends[e], 1):
            final = s == tl.steps
            if now - last < interval and not final:
                continue
            last = now
            el = now - tl.starts[e]
            rate = s / el
            rem = (tl.steps - s) / rate
            pct = 100 * s / tl.steps
            bar = ("█" * int(pct / 10)).ljust(10)
            r = f"{rate:5.2f}it/s" if rate >= 1 else f"{1 / rate:5.2f}s/it"
            line = f"\r{d}{pct:3.0f}%|{bar}| {s}/{tl.steps} [{_clock(el)}<{_clock(rem)}, {r}, loss=1.23]"
            out.append((now, (line + ("\n" if final else "")).encode()))
        if val_steps:
            v0 = tl.step_ends[e][-1]
            ve = tl.ends[e] - v0
            line = f"\rValidating: 100%|██████████| {val_steps}/{val_steps} [{_clock(ve)}<00:00, 9.99it/s]\n"
            out.append((tl.ends[e], line.encode()))
    return out


def lstmgen_log(tl: Timeline, every=10, run="runs/x", resumed_from="none") -> list:
    def stamp(t):
        return datetime.fromtimestamp(T0 + t).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]

    out = [
        (
            0.0,
            f"{stamp(0)} start run={run} epochs={tl.epochs} steps_per_epoch={tl.steps} batch=64 seq_len=100 "
            f"resumed_from={resumed_from}\n".encode(),
        )
    ]
    for e in range(tl.epochs):
        for s, now in enumerate(tl.step_ends[e], 1):
            if s % every == 0:
                out.append(
                    (
                        now,
                        f"{stamp(now)} epoch {e + 1}/{tl.epochs} step {s}/{tl.steps} loss 3.1234 "
                        f"elapsed {now - tl.starts[e]:.2f}s\n".encode(),
                    )
                )
        t = tl.ends[e]
        out.append(
            (
                t,
                f"{stamp(t)} epoch {e + 1}/{tl.epochs} end steps {tl.steps}/{tl.steps} time "
                f"{t - tl.starts[e]:.2f}s loss 2.1000 val_loss 2.0000 val_bpc 2.8854\n".encode(),
            )
        )
    out.append((tl.end, f"{stamp(tl.end)} finished epochs={tl.epochs} best_val_loss=1.4500\n".encode()))
    return out
