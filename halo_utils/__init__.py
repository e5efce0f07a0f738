"""halo_utils: find diffuse radio emission (radio halos) in MWA/GLEAM images.

The subpackages follow the pipeline, and each imports only from the ones before it
(``tests/test_layout.py`` checks this):

* ``data``     read the published images, download GLEAM cut-outs, catalogues, FRDEEP-F, the common sky grid
* ``sky``      the mock GLEAM sky: halos, radio galaxies, rings, beams and noise
* ``prep``     noise estimates, clipping, normalisation, augmentation, splits, the processed dataset, the audit
* ``detect``   the classifiers I, A, D, cross-validation, the hand-feature baseline, maps, sweeps
* ``generate`` the generative models (WGAN-GP, DDPM, VAE/CVAE) on a shared trainer, and their samples
* ``judge``    FID, KID, histograms, RAMIS and its morphology classifier, generated-image quality

Beside them, used by every stage: ``constants`` (bands, pixel size, beam, cosmology), ``config``
(profiles), ``paths`` (folders, atomic writes), ``plots`` and ``models`` (Keras architectures).
Notebooks import the modules and hold only parameters, narrative and plots. Importing the
package has one side effect: unless you set it, ``TF_CPP_MIN_LOG_LEVEL`` becomes 2, so
TensorFlow, when it is first imported, keeps its start-up information and warnings to itself
(its errors still show).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

__all__ = ["__version__"]
