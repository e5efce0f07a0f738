"""The profiles' table: what ``smoke``, ``cpu`` and ``paper`` change, per stage, read from the code.

    python -m halo_utils.profiles            # print the Markdown table
    python -m halo_utils.profiles --write    # rewrite the table in docs/running.md between its markers

A profile changes sizes and counts, never code paths; ``HALO_PROFILE`` picks the default.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import cli, paths
from .config import PROFILES, data_config
from .detect.classify import train_config
from .generate.ddpm import ddpm_config
from .generate.vae import vae_config
from .generate.wgan import wgan_config

__all__ = ["STAGES", "rows", "markdown", "main"]

STAGES = {"data and augmentation (all)": data_config, "classifiers (05)": train_config, "WGAN-GP (02)": wgan_config,
          "DDPM (03)": ddpm_config, "VAE / CVAE (07)": vae_config}
"""Stage -> the function giving its frozen settings of a profile."""

MARKERS = ("<!-- profiles:begin (python -m halo_utils.profiles --write) -->", "<!-- profiles:end -->")
PAGE = Path("docs") / "running.md"
"""The page that holds the table, from the project root."""


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ", ".join(_text(v) for v in value) or "—"
    return "—" if value is None else str(value)


def rows() -> list:
    """(stage, setting, smoke, cpu, paper) for every setting that differs between the profiles."""
    out = []
    for stage, make in STAGES.items():
        configs = [make(p) for p in PROFILES]
        for field in dataclasses.fields(configs[0]):
            if field.name == "profile":
                continue
            values = [_text(getattr(c, field.name)) for c in configs]
            if len(set(values)) > 1:
                out.append((stage, field.name, *values))
    return out


def markdown() -> str:
    """The Markdown table of :func:`rows`."""
    lines = [f"| stage | setting | {' | '.join(f'`{p}`' for p in PROFILES)} |", "|---|---|" + "---|" * len(PROFILES)]
    lines += [f"| {stage} | `{name}` | " + " | ".join(values) + " |" for stage, name, *values in rows()]
    return "\n".join(lines) + "\n"


def write_page(path=None) -> bool:
    """Replace the table between :data:`MARKERS` in :data:`PAGE`; True if it changed."""
    path = path or paths.project_root() / PAGE
    text = path.read_text()
    begin, end = text.index(MARKERS[0]) + len(MARKERS[0]), text.index(MARKERS[1])
    new = text[:begin] + "\n" + markdown() + text[end:]
    if new != text:
        paths.atomic_write(path, lambda tmp: Path(tmp).write_text(new))
    return new != text


def main(argv=None):
    parser = cli.parser(__spec__.name, __doc__)
    parser.add_argument("--write", action="store_true", help=f"rewrite the table in {PAGE} between its markers")
    args = parser.parse_args(argv)
    if args.write:
        print(f"{PAGE} updated" if write_page() else f"{PAGE} already up to date")
    else:
        print(markdown(), end="")


if __name__ == "__main__":
    main()
