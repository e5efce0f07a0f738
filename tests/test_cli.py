"""Every command line: the program named as the user types it, help for every option, examples as the epilog."""

import importlib
from pathlib import Path

import pytest

from halo_utils import cli

PACKAGE = Path(__file__).resolve().parents[1] / "halo_utils"
COMMANDS = sorted(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)
                  for p in PACKAGE.rglob("*.py") if "ArgumentParser" in p.read_text() or "cli.parser(" in p.read_text())
COMMANDS = [c for c in COMMANDS if c != "halo_utils.cli"]


def test_every_command_is_found():
    assert "halo_utils.search.__main__" in COMMANDS and "halo_utils.studies.sweep" in COMMANDS and len(COMMANDS) >= 15


@pytest.mark.parametrize("module", COMMANDS)
def test_help_names_the_program_and_every_option(module, monkeypatch, capsys):
    made = []

    def recording(name, doc):
        made.append(cli_parser(name, doc))
        return made[-1]

    cli_parser = cli.parser
    monkeypatch.setattr(cli, "parser", recording)
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main(["--help"])
    assert stop.value.code == 0
    shown = module.removesuffix(".__main__")
    assert capsys.readouterr().out.startswith(f"usage: python -m {shown} "), "the program is not named as typed"
    assert len(made) == 1, f"{module} does not build its parser with halo_utils.cli.parser"
    silent = [a.option_strings or a.dest for a in made[0]._actions if not a.help]
    assert not silent, f"python -m {shown}: options without help: {silent}"


def test_seed_ranges():
    assert cli.flat([cli.seeds("0-3"), cli.seeds("7"), cli.seeds("2")]) == [0, 1, 2, 3, 7]
    with pytest.raises(Exception, match="not a seed"):
        cli.seeds("x")
