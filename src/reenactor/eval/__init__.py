"""reenactor.eval: the evaluation suite (``reenactor eval``).

Every quality claim comes from a measurement anyone can repeat. Metrics use
dlib models (``eval`` extra), independent of the pipeline's mediapipe.

Modules:

* :mod:`~reenactor.eval.metrics`: PSNR, SSIM, L1, AKD, identity distance,
  expression features, correlation, jitter (pure numpy);
* :mod:`~reenactor.eval.pose`: head pose with ``cv2.solvePnP`` and relative rotations;
* :mod:`~reenactor.eval.dlibface`: dlib detector, 68 landmarks, ResNet descriptor;
* :mod:`~reenactor.eval.imageops`: letterboxing and face crops;
* :mod:`~reenactor.eval.media`: frame reading (PyAV, Pillow);
* :mod:`~reenactor.eval.sets` / ``sets.tsv``: the fixed evaluation sets (dev and check halves) and the data dir;
* :mod:`~reenactor.eval.setrule`, :mod:`~reenactor.eval.labels`: the seeded rule that writes ``sets.tsv``
  (``scripts/make_eval_sets.py``) from the manifest and the committed portrait/clip labels;
* :mod:`~reenactor.eval.naive2d`, :mod:`~reenactor.eval.methods`: baselines and the pipeline adapter;
* :mod:`~reenactor.eval.protocols`: per-clip self/cross metrics;
* :mod:`~reenactor.eval.runner`, :mod:`~reenactor.eval.memory`: generation, timing, strips; peak memory;
* :mod:`~reenactor.eval.regions`, :mod:`~reenactor.eval.region_boxes`: the region view (mouth/eyes/background crops at the driver's extreme frames) and how its frames and boxes are picked;
* :mod:`~reenactor.eval.amplitude`: expression amplitude ratios (output / driver) per channel;
* :mod:`~reenactor.eval.winrate`: per-item wins against naive2d and win rates per half;
* :mod:`~reenactor.eval.tables`, :mod:`~reenactor.eval.figures`: summaries, tables and images of the report;
* :mod:`~reenactor.eval.report`, :mod:`~reenactor.eval.report_md`: results.json, report.html, docs markdown;
* :mod:`~reenactor.eval.cli`: ``add_eval_parser`` / ``run_eval``.
"""
