"""Reading a small YAML file that a user wrote (a config file) without letting it exhaust memory or time.

A config file is a flat mapping of a few dozen keys, so it may be at most limits.CONFIG_FILE_BYTES, hold at most
MAX_NODES values nested at most MAX_DEPTH deep, and use no aliases (*name): aliases let a few lines stand for
billions of values ("billion laughs"), which every later step (checks, messages) would walk.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from lstmgen.errors import ConfigError
from lstmgen.util.inputs import read_regular
from lstmgen.util.limits import CONFIG_FILE_BYTES

MAX_NODES = 10_000
MAX_DEPTH = 32


class _Refused(Exception):
    def __init__(self, why: str, mark):
        super().__init__(why)
        self.why, self.mark = why, mark


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and anchors and counts the nodes it composes."""

    def __init__(self, stream):
        super().__init__(stream)
        self.nodes, self.depth = 0, 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused("uses a YAML anchor or alias (&name, *name), which config files may not", event.start_mark)
        self.nodes, self.depth = self.nodes + 1, self.depth + 1
        if self.nodes > MAX_NODES or self.depth > MAX_DEPTH:
            raise _Refused(
                f"has more than {MAX_NODES:,} values or nests deeper than {MAX_DEPTH}; a config file is "
                "a flat list of key: value lines",
                event.start_mark,
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml_file(path: Path, what: str = "config file"):
    """The YAML document in `path` (None when empty); every problem is one ConfigError naming the file."""
    data = read_regular(
        path,
        f"{what} '{path}'",
        "give a YAML file",
        bound=(CONFIG_FILE_BYTES, "--config", f"a {what} needs only a few lines"),
    )
    loader = _BoundedLoader(data)
    try:
        return loader.get_single_data()
    except _Refused as e:
        raise ConfigError(f"{what} '{path}' {e.why} (line {e.mark.line + 1}); write plain key: value lines") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{what} '{path}' is not valid YAML{where}; fix the syntax") from None
    except (ValueError, OverflowError, RecursionError) as e:  # e.g. a 5000-digit integer, a date like 2024-13-45
        shown = str(e) if len(str(e)) <= 60 else str(e)[:60] + "…"
        raise ConfigError(f"{what} '{path}' has a value YAML cannot read ({shown}); fix it") from None
    finally:
        loader.dispose()
