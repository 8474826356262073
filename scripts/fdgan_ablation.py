"""FD-GAN ablation (issue 16, paper Table 3): score ``reenactor train fdgan`` runs on the same held-out pairs.

Example, once the three face runs have finished::

    REENACTOR_CACHE=/work/cache .venv/bin/python scripts/fdgan_ablation.py \\
        --runs /work/fdgan_runs/face128_fdgan /work/fdgan_runs/face128_fdgan1 /work/fdgan_runs/face128_adain \\
        --pairs 200 --json ablation.json --markdown ablation.md --figure ablation.png

Metrics and their caveats: :mod:`reenactor.train.fdgan_ablation`. Progress
goes to stderr; bad input gives one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Parse the options, evaluate, write the outputs; returns the exit status."""
    from reenactor.train.landmark_cache import CACHE_ROOT

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=Path, nargs="+", required=True, help="run folders (each with ckpt.pt) or checkpoint files")
    p.add_argument("--pairs", type=int, default=200, help="held-out self-reenactment pairs (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the pairs (default 0: the trainer's validation seeds)")
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared data folder (default ../shared/data)")
    p.add_argument("--cache", type=Path, default=CACHE_ROOT / "fdgan", help="crop cache folder (as for train fdgan)")
    p.add_argument("--landmarks", type=Path, default=CACHE_ROOT / "landmarks", help="landmark cache folder (as for train fdgan)")
    p.add_argument("--frames-per-clip", type=int, default=160, help="as the runs were trained with (default 160)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--no-dlib", action="store_true", help="skip the identity and FD-dlib metrics")
    p.add_argument("--json", type=Path, help="write the report as JSON here")
    p.add_argument("--markdown", type=Path, help="write the markdown table here (printed to stdout as well)")
    p.add_argument("--figure", type=Path, help="write a PNG grid source | target | each variant here")
    args = p.parse_args(argv)

    from reenactor.errors import DependencyError, InputError, ReenactorError

    try:
        if args.pairs < 2:
            raise InputError("--pairs must be at least 2")
        for path in args.runs:
            if not path.exists():
                raise InputError(f"{path}: no such run folder or checkpoint")
        for out in (args.json, args.markdown, args.figure):
            if out is not None:
                out.parent.mkdir(parents=True, exist_ok=True)
        try:
            import torch
        except ImportError as exc:
            raise DependencyError("the ablation needs torch: pip install 'reenactor[train]'") from exc

        from reenactor.train import fdgan_ablation as A

        torch.set_num_threads(max(1, args.threads))
        log = lambda msg: print(f"[fdgan_ablation] {msg}", file=sys.stderr, flush=True)  # noqa: E731
        result, images = A.evaluate(args.runs, args.data, args.landmarks, args.cache, args.pairs, args.seed,
                                    args.frames_per_clip, args.device, not args.no_dlib, log)
        table = A.markdown(result)
        print(table)
        if args.json:
            args.json.write_text(json.dumps(result, indent=1) + "\n")
        if args.markdown:
            args.markdown.write_text(table)
        if args.figure:
            A.save_figure(images["pairs"], images["preds"], args.figure)
        log("wrote " + ", ".join(str(o) for o in (args.json, args.markdown, args.figure) if o) if any((args.json, args.markdown, args.figure)) else "done")
    except ReenactorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
