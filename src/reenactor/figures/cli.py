"""``reenactor figures``: regenerate the pictures under docs/ (the CLI layer of :mod:`reenactor.figures`).

Wired into the main CLI through :func:`add_figures_parser` / :func:`run_figures`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reenactor.errors import OutputError
from reenactor.figures.registry import FIGURES, MADE_ELSEWHERE, default_docs, make_figures, select

DESCRIPTION = (
    "Regenerate the pictures under docs/ (all of them, or the NAMEs given). Most read the real clips "
    "of ../shared/data ($REENACTOR_DATA, or --data). The eval report's pictures (docs/benchmarks/) and "
    "the LD-Net report's (docs/ldnet/) come from their own commands: see --list."
)


def add_figures_parser(sub) -> None:
    """Add ``figures`` to a subparsers object."""
    p = sub.add_parser("figures", help="regenerate the pictures under docs/", description=DESCRIPTION)
    p.add_argument("names", nargs="*", metavar="NAME", help="figures to make (default: all; see --list)")
    p.add_argument("--list", action="store_true", help="list the figures, their files and what makes the others, then exit")
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="docs folder to write into (default: docs/ of this checkout)")
    p.add_argument("--data", type=Path, default=None, metavar="DIR", help="data folder with MANIFEST.tsv (default: $REENACTOR_DATA or ../shared/data)")


def _listing() -> str:
    rows = [f"{f.name:<15} docs/{f.output:<22} {f.description}" + ("" if f.needs_data else " (no data needed)") for f in FIGURES]
    rows.append("")
    rows.append("made by other commands:")
    rows += [f"  docs/{pattern:<26} {command}: {what}" for pattern, command, what in MADE_ELSEWHERE]
    return "\n".join(rows)


def run_figures(args: argparse.Namespace) -> int:
    """Make the figures ``args`` name; one ``wrote PATH (N s)`` line each on stderr.

    Raises:
        InputError: unknown name, or the data is missing for a figure that needs it.
        OutputError: no --out outside a checkout, or a picture cannot be written.
    """
    from reenactor.figures.tiles import find_data

    if args.list:
        print(_listing())
        return 0
    figures = select(args.names)
    out = args.out or default_docs()
    if out is None:
        raise OutputError("no docs/ folder beside this installation: pass --out DIR")
    data = find_data(args.data) if any(f.needs_data for f in figures) else None
    for path, seconds in make_figures(figures, out, data):
        print(f"reenactor: wrote {path} ({seconds:.0f} s)", file=sys.stderr, flush=True)
    return 0
