"""The (embedded) Reber grammar of Hochreiter & Schmidhuber's Experiment 1: generator and exact validity checks.

Standard 6-state automaton (Cleeremans, Servan-Schreiber & McClelland 1989) over B T P S X V E. A Reber string is
``B`` + a path from node 1 to the exit + ``E``; the embedded form is ``B`` + T|P + Reber string + the same T|P + ``E``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Protocol

ALPHABET = "BTPSXVE"
_EXIT = 6

# node -> ((symbol, next node), (symbol, next node)); each branch is taken with probability 1/2.
TRANSITIONS: dict[int, tuple[tuple[str, int], tuple[str, int]]] = {
    1: (("T", 2), ("P", 3)),
    2: (("S", 2), ("X", 4)),
    3: (("T", 3), ("V", 5)),
    4: (("X", 3), ("S", _EXIT)),
    5: (("P", 4), ("V", _EXIT)),
}
_NEXT = {node: dict(edges) for node, edges in TRANSITIONS.items()}


class _Rng(Protocol):
    def random(self) -> float: ...


def reber_string(rng: _Rng) -> str:
    """One Reber string, e.g. 'BTSSXXTVVE'. `rng` is a random.Random or numpy Generator."""
    out = ["B"]
    node = 1
    while node != _EXIT:
        symbol, node = TRANSITIONS[node][0 if rng.random() < 0.5 else 1]
        out.append(symbol)
    out.append("E")
    return "".join(out)


def embedded_reber_string(rng: _Rng) -> str:
    """One embedded Reber string, e.g. 'BTBPVVETE'."""
    outer = "T" if rng.random() < 0.5 else "P"
    return "B" + outer + reber_string(rng) + outer + "E"


def is_valid_reber(s: str) -> bool:
    """True iff `s` is exactly B + an accepted path through the automaton + E."""
    if len(s) < 5 or s[0] != "B" or s[-1] != "E":
        return False
    node = 1
    for symbol in s[1:-1]:
        if node == _EXIT:
            return False
        node = _NEXT[node].get(symbol, 0)
        if node == 0:
            return False
    return node == _EXIT


def is_valid_embedded(s: str) -> bool:
    """True iff `s` is B + X + Reber string + X + E with X the same symbol, T or P."""
    return len(s) >= 9 and s[0] == "B" and s[-1] == "E" and s[1] in "TP" and s[-2] == s[1] and is_valid_reber(s[2:-2])


def corpus(n: int = 20_000, seed: int = 0) -> str:
    """`n` embedded Reber strings, one per line (deterministic for a given seed)."""
    rng = random.Random(seed)
    return "".join(embedded_reber_string(rng) + "\n" for _ in range(n))


def valid_fraction(lines: Iterable[str] | str) -> float:
    """Fraction of the non-empty lines that are valid embedded Reber strings (0.0 when there are none)."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    items = [line.strip() for line in lines]
    items = [line for line in items if line]
    if not items:
        return 0.0
    return sum(is_valid_embedded(line) for line in items) / len(items)
