"""Pre-processing: noise estimates, clipping, normalisation, augmentation, splits and the processed dataset."""
