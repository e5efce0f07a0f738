"""The studies: the experiments behind docs/results (multi-seed sweeps, comparisons, reports). The last stage:
they may use every other; nothing in the product imports them."""
