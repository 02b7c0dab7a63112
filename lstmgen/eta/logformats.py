"""One text segment (what a terminal shows between `\\r`/`\\n`) → events, per log format.

Progress snapshots come out as cheap tuples `(line, step, total, kind, final, desc, epoch, build, match)`;
`build(match, line)` makes the `Progress` later, only for the snapshots kept (`logparse.thin`). Everything here
is bounded: counts are capped at 12 digits, so odd input cannot make `int()` fail.
"""

from __future__ import annotations

import re
from functools import partial

from lstmgen.eta.logevents import EpochEnd, EpochHeader, Progress, RunEnd, RunStart
from lstmgen.eta.logstamps import iso_stamp
from lstmgen.eta.logvalues import UNIT_S, count, opt_int, seconds, step_rate, tqdm_rate

_N = r"\d{1,12}"
_TIME = r"\d{1,6}:\d\d:\d\d|\d{1,6}:\d\d|\d{1,9}s"
_RATE = r"(\d{1,9}(?:\.\d+)?)\s?(s|ms|us|µs|μs)/(step|sample)"
K3 = re.compile(rf"(?<![\w./])({_N})/({_N}|Unknown)\s+(?:[^\s\d]+\s+)?({_TIME})\s+{_RATE}")
K2 = re.compile(
    rf"(?<![\w./])({_N})/({_N})\s*\[[^\]\d]*\]\s*-\s*"
    rf"(?:ETA:\s*({_TIME}|\d{{1,9}})|(\d{{1,9}})s(?:\s+{_RATE})?)"
)
K2U = re.compile(rf"(?<![\w./])({_N})/()Unknown\s*-\s*()(\d{{1,9}})s(?:\s+{_RATE})?")
KV2 = re.compile(rf"(?<![\w./])({_N})/({_N})\s+-\s+(\d{{1,9}})s\s+-\s+(?:{_RATE}|[A-Za-z_][\w ]*:)")
KOLD = re.compile(r"^[\s#>]{0,8}-?\s?(\d{1,9})s\s+-\s+[A-Za-z_][\w ]*:")
TQDM = re.compile(
    r"(\d{1,3})%\|[^|]{0,300}\|\s*(\d{1,12}(?:\.\d+)?[kMGT]?)/(\d{1,12}(?:\.\d+)?[kMGT]?)\s*"
    r"\[(\d{1,6}(?::\d\d){1,2})(?:<(\d{1,6}(?::\d\d){1,2}|\?))?"
    r"(?:,\s*(\d{1,9}(?:\.\d+)?|\?)\s*([A-Za-z]*)/([A-Za-z]+))?"
)
TQDM_OPEN = re.compile(
    r"(?<![\w.])(\d{1,12}(?:\.\d+)?[kMGT]?)[A-Za-z]* \[(\d{1,6}(?::\d\d){1,2}),\s*"
    r"(\d{1,9}(?:\.\d+)?|\?)\s*([A-Za-z]*)/([A-Za-z]+)"
)
DESC_EPOCH = re.compile(r"(?i)\bepoch\b\s*[:#]?\s*(\d{1,9})(?:\s*(?:/|of)\s*(\d{1,9}))?")
DESC_EVAL = re.compile(r"(?i)valid|\bval\b|eval|test|predict|sanity|inference")
HEADER = re.compile(r"(?<![\w/])Epoch\s+(\d{1,9})\s*/\s*(\d{1,9})(?![\d/.])")
HEADER_LC = re.compile(r"^[\s#>*|-]{0,8}epoch\s+(\d{1,9})\s*/\s*(\d{1,9})(?![\d/.])", re.I)
_LG_TS = r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,6})?)"
LG = re.compile(r"^[\s#>]{0,8}" + _LG_TS + r"\s+(start|epoch|finished|interrupted)\b(.*)")
LG_STEP = re.compile(rf" ({_N})/({_N}) step ({_N})/({_N})")
LG_END = re.compile(rf" ({_N})/({_N}) end steps ({_N})/({_N})")
LG_KV = re.compile(r"(\w+)=(\S+)")
LG_ELAPSED = re.compile(r"\belapsed (\d{1,9}(?:\.\d+)?)s")
LG_TIME = re.compile(r"\btime (\d{1,9}(?:\.\d+)?)s")


def keras(seg: str, n: int, out: list) -> tuple[int, int]:
    """Keras bars and epoch summaries; returns the match span ((0, 0) when none)."""
    if "[" in seg or "Unknown -" in seg:
        m = K2.search(seg) or K2U.search(seg)
        if m is not None:
            step, total = int(m[1]), int(m[2]) if m[2] else None
            out.append(
                (n, step, total, "keras2", not m[3] and total is not None and step >= total, "", None, _build_k2, m)
            )
            return m.span()
    if "/s" in seg:
        m = K3.search(seg)
        if m is not None:
            step, t = int(m[1]), m[2]
            total = None if t[0] == "U" else int(t)
            out.append((n, step, total, "keras3", total is not None and step >= total, "", None, _build_k3, m))
            return m.span()
    if "s - " in seg:
        m = KV2.search(seg)
        if m is not None:
            out.append((n, int(m[1]), int(m[2]), "keras3" if m[4] else "keras2", True, "", None, _build_kv2, m))
            return m.span()
        m = KOLD.search(seg)
        if m is not None:
            out.append(EpochEnd(n, float(m[1])))
            return m.span()
    return 0, 0


def _build_k2(m: re.Match, n: int) -> Progress:
    step, total = int(m[1]), opt_int(m[2])
    if m[3]:  # ETA: still running
        return Progress(n, step, total, "keras2", eta_s=seconds(m[3]))
    rate, res = step_rate(m[5], m[6])
    return Progress(
        n,
        step,
        total,
        "keras2",
        elapsed_s=float(m[4]),
        per_step_s=rate,
        final=total is not None and step >= total,
        step_res_s=res,
    )


def _build_k3(m: re.Match, n: int) -> Progress:
    step, total = int(m[1]), opt_int(m[2])
    rate, res = step_rate(m[4], m[5])
    t = seconds(m[3])
    if total is not None and step < total:
        return Progress(n, step, total, "keras3", eta_s=t, per_step_s=rate, step_res_s=res)
    # the last update of an epoch, and unknown-size bars, show the elapsed time
    return Progress(n, step, total, "keras3", elapsed_s=t, per_step_s=rate, final=total is not None, step_res_s=res)


_TAIL_RATE = re.compile(rf"-\s+{_RATE}")
_EPOCH_TIME = re.compile(r"-\s+(\d{1,9}(?:\.\d+)?)(s|ms|us|µs|μs)/epoch\b")


def _build_kv2(m: re.Match, n: int) -> Progress:
    r = m if m[4] else _TAIL_RATE.search(m.string, m.end())  # tf.keras 2.9+: '- 5s/epoch - 3ms/step' at the end
    rate, res = step_rate(r[4 if r is m else 1], r[5 if r is m else 2]) if r is not None else (None, 0.0)
    e = _EPOCH_TIME.search(m.string, m.end()) if "/epoch" in m.string else None
    return Progress(
        n,
        int(m[1]),
        int(m[2]),
        "keras3" if m[4] else "keras2",
        elapsed_s=float(m[3]),
        per_step_s=rate,
        final=True,
        step_res_s=res,
        epoch_s=float(e[1]) * UNIT_S[e[2]] if e else None,
    )


def tqdm(seg: str, n: int, out: list, descs: dict) -> bool:
    m = TQDM.search(seg)
    if m is not None:
        step, total = count(m[2]), count(m[3])
    else:
        m = TQDM_OPEN.search(seg)
        if m is None:
            return False
        step, total = count(m[1]), None
    desc = seg[: m.start()].strip().rstrip(":").strip()[-120:]
    if desc not in descs:
        e = DESC_EPOCH.search(desc)
        descs[desc] = (
            int(e[1]) if e else None,
            opt_int(e[2]) if e else None,
            "eval" if DESC_EVAL.search(desc) else "train",
        )
    epoch = descs[desc][0]
    out.append(
        (n, step, total, "tqdm", total is not None and step >= total, desc, epoch, partial(_tqdm_progress, descs), m)
    )
    return True


def _tqdm_progress(descs: dict, m: re.Match, n: int) -> Progress:
    """Build a tqdm snapshot lazily (only kept snapshots are fully parsed)."""
    if m.re is TQDM:
        step, total, el = count(m[2]), count(m[3]), seconds(m[4])
        eta = seconds(m[5]) if m[5] and m[5] != "?" else None
        per = tqdm_rate(m[6], m[7], m[8])
    else:
        step, total, el, eta = count(m[1]), None, seconds(m[2]), None
        per = tqdm_rate(m[3], m[4], m[5])
    desc = m.string[: m.start()].strip().rstrip(":").strip()[-120:]
    epoch, epoch_total, phase = descs.get(desc, (None, None, "train"))
    return Progress(
        n,
        step,
        total,
        "tqdm",
        eta_s=eta,
        per_step_s=per,
        elapsed_s=el,
        desc=desc,
        final=total is not None and step >= total,
        epoch=epoch,
        epoch_total=epoch_total,
        phase=phase,
    )


def lstmgen(m: re.Match, n: int, out: list, cache: dict) -> bool:
    """lstmgen's train.log lines (`m` is a match of LG)."""
    word, rest = m[2], m[3]
    if word == "epoch":
        s = LG_END.match(rest)
        if s is not None:
            t = LG_TIME.search(rest)
            out.append(
                EpochEnd(
                    n,
                    float(t[1]) if t else None,
                    steps=int(s[4]),
                    epoch=int(s[1]),
                    epoch_total=int(s[2]),
                    timestamp=iso_stamp(m[1], cache),
                    kind="lstmgen",
                )
            )
            return True
        s = LG_STEP.match(rest)
        if s is None:
            return False
        out.append((n, int(s[3]), int(s[4]), "lstmgen", False, "", int(s[1]), partial(_lstmgen_progress, cache, s), m))
        return True
    kv = dict(LG_KV.findall(rest))
    ts = iso_stamp(m[1], cache)
    if word == "start":
        if "run" not in kv and "epochs" not in kv:
            return False
        out.append(
            RunStart(
                n,
                ts,
                opt_int(kv.get("epochs")),
                opt_int(kv.get("steps_per_epoch")),
                resumed=kv.get("resumed_from", "none") not in ("none", "None", ""),
            )
        )
    elif word == "finished":
        out.append(RunEnd(n, ts, "finished", epoch=opt_int(kv.get("epochs"))))
    else:
        out.append(RunEnd(n, ts, "interrupted", opt_int(kv.get("epoch")), opt_int(kv.get("step"))))
    return True


def _lstmgen_progress(cache: dict, s: re.Match, m: re.Match, n: int) -> Progress:
    """Build an lstmgen train.log snapshot lazily (`s`: its LG_STEP match, `m`: the line's)."""
    e = LG_ELAPSED.search(m[3])
    return Progress(
        n,
        int(s[3]),
        int(s[4]),
        "lstmgen",
        timestamp=iso_stamp(m[1], cache),
        epoch=int(s[1]),
        epoch_total=int(s[2]),
        elapsed_s=float(e[1]) if e else None,
    )


def header(seg: str, n: int, out: list) -> bool:
    m = HEADER.search(seg) or HEADER_LC.search(seg)
    if m is None:
        return False
    epoch, total = int(m[1]), int(m[2])
    if not 0 <= epoch <= total or total == 0:
        return False
    out.append(EpochHeader(n, epoch, total))
    return True
