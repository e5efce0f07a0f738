"""Command lines a user can read: the program named as the user types it, the module's examples as the epilog.

    parser = cli.parser(__spec__.name, __doc__)   # in a module's main()
    cli.add_seeds(parser, [0, 1, 2], "the runs to tabulate")   # --seeds 0 1 2, or --seeds 0-9
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["parser", "seeds", "flat", "Seeds", "add_seeds", "add_study_options", "without_plan", "SEEDS_HELP"]

SCRIPTS = ("halo-search", "halo-sweep")
"""The console scripts (pyproject.toml)."""

SEEDS_HELP = "each a number or a range: 0 1 2, or 0-9 for seeds 0 to 9"


def parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """An argument parser for ``python -m <module>``: the description is the first paragraph of ``doc`` (the module's
    docstring), the epilog the rest of it (its examples), kept as written."""
    head, _, rest = (doc or "").strip().partition("\n\n")
    script = Path(sys.argv[0]).name  # a console script (halo-search, halo-sweep) is named as typed
    prog = script if script in SCRIPTS else f"python -m {module.removesuffix('.__main__')}"
    return argparse.ArgumentParser(prog=prog, description=head,
                                   epilog=rest or None, formatter_class=argparse.RawDescriptionHelpFormatter)


def seeds(text: str) -> list:
    """One ``--seeds`` item: ``'3'`` -> [3], ``'0-9'`` -> [0, ..., 9] (use with ``nargs='+'``, then :func:`flat`)."""
    first, dash, last = text.partition("-")
    try:
        low, high = int(first), int(last) if dash else int(first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed or a range of seeds (e.g. 3 or 0-9)") from None
    if high < low:
        raise argparse.ArgumentTypeError(f"{text!r}: the range ends before it starts")
    return list(range(low, high + 1))


def flat(items: list) -> list:
    """The seeds of several ``--seeds`` items, in order, each once."""
    return list(dict.fromkeys(s for item in items for s in (item if isinstance(item, list) else [item])))


class Seeds(argparse.Action):
    """``--seeds`` as a flat list of ints: ``add_argument("--seeds", nargs="+", type=seeds, action=Seeds, ...)``."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, flat(values))


def add_seeds(parser: argparse.ArgumentParser, default: list, what: str = "") -> None:
    """The ``--seeds`` option (numbers and ranges, see :func:`seeds`), with ``default`` stated in its help."""
    parser.add_argument("--seeds", nargs="+", type=seeds, action=Seeds, default=list(default), metavar="SEED",
                        help=f"{what + ': ' if what else ''}{SEEDS_HELP} (default {' '.join(map(str, default))})")


def add_study_options(parser: argparse.ArgumentParser, seeds: list, model: str = "I") -> None:
    """The options every study table has: ``--profile``, ``--seeds`` (of the runs it reads) and ``--model``."""
    parser.add_argument("--profile", default="cpu", help="profile of the runs: smoke, cpu or paper (default cpu)")
    add_seeds(parser, seeds, "the runs to tabulate")
    parser.add_argument("--model", default=model, help=f"model of the runs: I, A or D (default {model})")
    parser.add_argument("--plan", metavar="FILE", default=None,
                        help="instead: write the runs this table reads, and the table, as a Snakemake plan to FILE "
                             "(workflow/Snakefile runs it: make sweep STUDY=<module> ...)")


def without_plan(argv: list) -> list:
    """A study's command line with its ``--plan FILE`` left out: the command its plan writes the table with."""
    out = list(argv)
    if "--plan" in out:
        i = out.index("--plan")
        del out[i:i + 2]
    return [a for a in out if not a.startswith("--plan=")]
