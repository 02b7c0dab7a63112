"""The package's shape: modules stay small (one concern each). Layering and import cycles are import-linter's
contracts in pyproject.toml (`lint-imports`, run by .ci/run)."""

from pathlib import Path

import lstmgen

MAX_LINES = 300
PACKAGE = Path(lstmgen.__file__).resolve().parent


def test_no_module_is_over_300_lines():
    sizes = {
        p.relative_to(PACKAGE.parent).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for p in sorted(PACKAGE.rglob("*.py"))
    }
    over = {name: n for name, n in sizes.items() if n > MAX_LINES}
    listed = ", ".join(f"{name} ({n})" for name, n in sorted(over.items(), key=lambda kv: -kv[1]))
    assert not over, f"split by concern, each part under {MAX_LINES} lines: {listed}"
