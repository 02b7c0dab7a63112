"""The catalog of well-known public corpora (data/catalog.json): `lstmgen prepare tinyshakespeare` downloads the
file once, checks its size and sha256, unpacks the archive member the entry names, and keeps the result in the cache.

Example: `resolve("tinyshakespeare")` returns the cached, verified `input.txt` (no network the second time).
Set `LSTMGEN_CATALOG=path.json` to read another catalog (tests do, to point at a local server).
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from lstmgen.data.download import cache_subdir, download
from lstmgen.errors import DataError
from lstmgen.util.atomic import atomic_path
from lstmgen.util.output import current

FORMAT = "lstmgen-catalog"
FIELDS = ("name", "title", "url", "size", "sha256", "licence")
OPTIONAL = ("member",)
SHIPPED = Path(__file__).with_name("catalog.json")  # a symlink to the repository's data/catalog.json
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_OFFLINE_FIX = "check your connection, or download it yourself and pass the file's path"


@dataclass(frozen=True)
class Entry:
    """One corpus: where to get it, what it must hash to, and (for a zip) which member holds the text."""

    name: str
    title: str
    url: str
    size: int
    sha256: str
    licence: str
    member: str | None = None


def catalog_path() -> Path:
    """`$LSTMGEN_CATALOG` if set, else the catalog shipped with the package."""
    env = os.environ.get("LSTMGEN_CATALOG")
    return Path(env).expanduser() if env else SHIPPED


def load(path: str | os.PathLike | None = None) -> dict[str, Entry]:
    """The catalog's entries by name, validated; a malformed catalog is a one-line DataError."""
    path = Path(path) if path is not None else catalog_path()
    fix = "fix the file (data/README.md describes the fields) or unset LSTMGEN_CATALOG"
    try:
        obj = json.loads(path.read_text("utf-8"))
    except OSError as e:
        raise DataError(f"cannot read the corpus catalog {path} ({e.strerror or e}); {fix}") from None
    except ValueError as e:
        raise DataError(f"corpus catalog {path} is not valid JSON ({e}); {fix}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or not isinstance(obj.get("corpora"), list):
        raise DataError(f"corpus catalog {path} is not a {FORMAT} file with a 'corpora' list; {fix}")
    entries: dict[str, Entry] = {}
    for i, raw in enumerate(obj["corpora"], 1):
        problem = _problem(raw)
        label = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else f"#{i}"
        if problem is None and raw["name"] in entries:
            problem = "repeats an earlier name"
        if problem:
            raise DataError(f"corpus catalog {path}: entry {label} {problem}; {fix}")
        entries[raw["name"]] = Entry(**{k: raw[k] for k in (*FIELDS, *OPTIONAL) if k in raw})
    return entries


def _problem(raw: object) -> str | None:
    if not isinstance(raw, dict):
        return "is not an object"
    missing = [k for k in FIELDS if k not in raw]
    if missing:
        return f"lacks {', '.join(missing)}"
    unknown = sorted(set(raw) - set(FIELDS) - set(OPTIONAL))
    if unknown:
        return f"has unknown field(s) {', '.join(unknown)}"
    if not all(isinstance(raw[k], str) and raw[k].strip() for k in ("name", "title", "url", "licence")):
        return "needs non-empty strings for name, title, url and licence"
    if not _NAME.fullmatch(raw["name"]) or raw["name"].startswith("builtin"):
        return "needs a lowercase name of letters, digits, '.', '_' or '-' (not starting with 'builtin')"
    if not re.match(r"https?://[^/\s]+", raw["url"]):
        return "needs an http:// or https:// url"
    if not isinstance(raw["size"], int) or isinstance(raw["size"], bool) or raw["size"] <= 0:
        return "needs a positive integer size in bytes"
    if not isinstance(raw["sha256"], str) or not _SHA256.fullmatch(raw["sha256"]):
        return "needs a sha256 of 64 lowercase hex digits"
    if "member" in raw and not (isinstance(raw["member"], str) and raw["member"].strip()):
        return "needs a non-empty member name (the file inside the zip)"
    return None


def names() -> list[str]:
    """The catalog's corpus names, sorted; [] when the catalog cannot be read (used in error messages)."""
    try:
        return sorted(load())
    except DataError:
        return []


def lookup(name: str) -> Entry | None:
    """The entry called `name`, or None; a broken catalog raises only when `name` could be a catalog name."""
    if not _NAME.fullmatch(name):
        return None
    return load().get(name)


def cached_path(entry: Entry) -> Path:
    """Where the verified text of `entry` lives in the cache (keyed by its sha256, so a new version re-downloads)."""
    file = entry.member or Path(urlsplit(entry.url).path).name or "corpus.txt"
    return cache_subdir("catalog") / f"{entry.name}-{entry.sha256[:16]}" / Path(file).name


def resolve(entry: Entry) -> Path:
    """The verified local file for `entry`: from the cache, else downloaded, checked and (for a zip) unpacked."""
    dest = cached_path(entry)
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    current().say(f"downloading {entry.name} ({entry.size:,} bytes) from {entry.url}")
    if entry.member is None:
        return download(
            entry.url,
            dest,
            size=entry.size,
            sha256=entry.sha256,
            what=f"{entry.name} from {entry.url}",
            fix=_OFFLINE_FIX,
        )
    archive = dest.parent / ((Path(urlsplit(entry.url).path).name or "archive") + ".download")
    download(
        entry.url,
        archive,
        size=entry.size,
        sha256=entry.sha256,
        what=f"{entry.name} from {entry.url}",
        fix=_OFFLINE_FIX,
    )
    try:
        _extract(entry, entry.member, archive, dest)
    finally:
        archive.unlink(missing_ok=True)  # the unpacked member is what the cache keeps
    return dest


def _extract(entry: Entry, member: str, archive: Path, dest: Path) -> None:
    fix = "the catalog entry's member is wrong; fix data/catalog.json"
    try:
        with zipfile.ZipFile(archive) as z:
            try:
                info = z.getinfo(member)
            except KeyError:
                have = ", ".join(z.namelist()[:5])
                raise DataError(f"{entry.name}: {entry.url} has no member {member!r} (it has {have}); {fix}") from None
            with (
                z.open(info) as src,
                atomic_path(dest) as tmp,
                open(tmp, "wb") as out,
                current().bar(total=info.file_size, unit="B", unit_scale=True, desc=f"unpacking {member}") as bar,
            ):
                while chunk := src.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as e:
        raise DataError(f"{entry.name}: cannot unpack {entry.url} ({e}); {fix}") from None
    except OSError as e:
        raise DataError(
            f"{entry.name}: cannot unpack {entry.url} into {dest.parent} ({e.strerror or e}); "
            "free some disk space or set LSTMGEN_CACHE to another directory"
        ) from None
