"""The one writer of the studies' tables: ``docs/results/<name>``, Markdown each with the command that made it.

    report.write("realsky_cpu.md", "Made by `python -m ...`\n\n" + report.markdown(rows))
"""

from __future__ import annotations

from pathlib import Path

from .. import paths

__all__ = ["path", "write", "markdown"]


def path(name: str) -> Path:
    """Where the table ``name`` lives: ``docs/results/<name>``."""
    return paths.docs_results(name)


def write(name: str, text: str, show: bool = True) -> Path:
    """Write ``text`` to ``docs/results/<name>`` atomically (never half-written); print it and where it went."""
    out = paths.atomic_write(path(name), lambda tmp: Path(tmp).write_text(text))
    if show:
        print(text)
        print(f"written: {out}")
    return out


def markdown(rows: list) -> str:
    """Dicts as a Markdown table, columns in order of first appearance; "(no run found)" for none."""
    if not rows:
        return "(no run found)\n"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    return "\n".join(lines + ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]) + "\n"
