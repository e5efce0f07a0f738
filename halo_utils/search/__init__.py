"""Searching cluster catalogues, or any folder of FITS images, for halo candidates with a saved detector.

* ``catalogues`` cluster catalogues from VizieR (cached) or local files, in one table
* ``fields``     manifests (which file is which cluster and band), SkyView downloads, reading fields
* ``detector``   the saved detector of a ``kfold`` run: where it lives, training one when it is missing
* ``score``      scoring fields with quality flags, candidates, completeness and purity
* ``mockcat``    a mock catalogue with known halos, and corrupted copies of its files
* ``__main__``   ``python -m halo_utils.search --catalogue psz2 --out DIR`` or ``--folder DIR --manifest CSV``
"""
