"""The fixed, documented evaluation sets and where the data lives.

The selection is committed as ``sets.tsv`` next to this module (tab
separated: ``protocol, name, portrait, driver, why``; ``-`` for no portrait).
Paths are relative to the data directory, which holds ``MANIFEST.tsv``,
``portraits/`` and ``videos/``. The data directory is, in order of
precedence: ``--data DIR``, the ``REENACTOR_DATA`` environment variable,
``<repo>/../shared/data``.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from reenactor.errors import InputError

SETS_FILE = Path(__file__).with_name("sets.tsv")
PROTOCOLS = ("self", "cross")
DATA_ENV = "REENACTOR_DATA"


@dataclass(frozen=True)
class EvalItem:
    """One clip (self protocol) or one portrait/driver pair (cross protocol).

    Attributes:
        protocol: ``"self"`` or ``"cross"``.
        name: short unique identifier used in reports.
        portrait: path relative to the data dir, or None (self: first driver frame).
        driver: video path relative to the data dir.
        why: one line saying what the item covers.
    """

    protocol: str
    name: str
    portrait: str | None
    driver: str
    why: str


def load_sets(path: str | Path = SETS_FILE) -> list[EvalItem]:
    """Read the committed selection (``sets.tsv``) in file order.

    Raises:
        InputError: file missing, malformed rows, unknown protocols, duplicate names.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"evaluation set file not found: {p}")
    items: list[EvalItem] = []
    with p.open(newline="", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or row[0].startswith("#"):
                continue
            if len(row) != 5:
                raise InputError(f"{p}:{lineno}: expected 5 tab-separated fields, got {len(row)}")
            protocol, name, portrait, driver, why = (x.strip() for x in row)
            if protocol not in PROTOCOLS:
                raise InputError(f"{p}:{lineno}: unknown protocol {protocol!r}")
            if protocol == "cross" and portrait == "-":
                raise InputError(f"{p}:{lineno}: cross items need a portrait")
            items.append(EvalItem(protocol, name, None if portrait == "-" else portrait, driver, why))
    names = [it.name for it in items]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"{p}: duplicate item names: {', '.join(dupes)}")
    return items


def default_data_dir() -> Path:
    """``<repo>/../shared/data`` for a source checkout, else ``./../shared/data``."""
    here = Path(__file__).resolve()
    repo = here.parents[3] if len(here.parents) > 3 else Path.cwd()
    if not (repo / "pyproject.toml").is_file():
        repo = Path.cwd()
    return (repo / ".." / "shared" / "data").resolve()


def resolve_data_dir(cli_value: str | Path | None = None) -> Path:
    """The data directory: ``cli_value``, else ``$REENACTOR_DATA``, else :func:`default_data_dir`.

    Raises:
        InputError: the directory has no ``MANIFEST.tsv``.
    """
    if cli_value:
        d = Path(cli_value)
    elif os.environ.get(DATA_ENV):
        d = Path(os.environ[DATA_ENV])
    else:
        d = default_data_dir()
    d = d.expanduser().resolve()
    if not (d / "MANIFEST.tsv").is_file():
        raise InputError(
            f"evaluation data not found: {d}/MANIFEST.tsv (use --data DIR or set {DATA_ENV})"
        )
    return d


def read_manifest(data_dir: str | Path) -> dict[str, dict[str, str]]:
    """``MANIFEST.tsv`` as ``{relative path: row}`` (columns as in its header)."""
    p = Path(data_dir) / "MANIFEST.tsv"
    with p.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {row["file"]: row for row in rows}


def select(items: list[EvalItem], protocol: str, names: list[str] | None = None) -> list[EvalItem]:
    """Items of ``protocol`` (``self``, ``cross`` or ``all``), optionally only ``names``.

    Raises:
        InputError: unknown protocol or names.
    """
    if protocol not in (*PROTOCOLS, "all"):
        raise InputError(f"unknown protocol {protocol!r} (self, cross or all)")
    chosen = [it for it in items if protocol in ("all", it.protocol)]
    if names:
        known = {it.name for it in chosen}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InputError(f"unknown item(s) for protocol {protocol}: {', '.join(unknown)}")
        chosen = [it for it in chosen if it.name in names]
    return chosen


def validate(items: list[EvalItem], data_dir: str | Path) -> dict[str, dict[str, str]]:
    """Check that every file exists and is listed in the manifest; cross pairs are different people.

    Returns:
        The manifest rows, as :func:`read_manifest`.

    Raises:
        InputError: a missing or unlisted file, or a cross pair of one identity.
    """
    d = Path(data_dir)
    manifest = read_manifest(d)
    for it in items:
        for rel in (it.portrait, it.driver):
            if rel is None:
                continue
            if not (d / rel).is_file():
                raise InputError(f"{it.name}: file not found: {d / rel}")
            if rel not in manifest:
                raise InputError(f"{it.name}: {rel} is not listed in {d / 'MANIFEST.tsv'}")
        if it.protocol == "cross":
            a = manifest[it.portrait]["identity"]
            b = manifest[it.driver]["identity"]
            if a == b:
                raise InputError(f"{it.name}: portrait and driver are the same identity ({a})")
    return manifest
