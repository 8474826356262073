"""The pictures under docs/, made again by one command: ``reenactor figures``.

    reenactor figures                 # every figure listed below, into docs/
    reenactor figures strip wink      # just these
    reenactor figures --list          # names, files, and the pictures other commands make
    reenactor figures --out DIR       # write somewhere else (same layout as docs/)

Modules:

* :mod:`reenactor.figures.registry`: :data:`~reenactor.figures.registry.FIGURES`
  (name -> maker, output under docs/, description) and the pictures made
  elsewhere (docs/benchmarks/ by ``scripts/make_benchmarks.sh``, docs/ldnet/
  by ``scripts/make_ldnet_doc.sh``);
* :mod:`reenactor.figures.tiles`: labelled tiles, rows of renders, data
  lookup, atomic JPEG/PNG writing;
* :mod:`reenactor.figures.overview`, :mod:`~reenactor.figures.head`,
  :mod:`~reenactor.figures.features`: the figures themselves, each a function
  ``(data folder) -> HxWx3 uint8 RGB array`` (or PNG bytes);
* :mod:`reenactor.figures.cli`: the ``figures`` subcommand.

Nothing in the runtime imports this package.
"""
