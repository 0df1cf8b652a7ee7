"""`nas-mnist bench SUBCOMMAND` (search.cli.bench): each subcommand has only its own flags, and the
old forms of the command name their new one."""

from __future__ import annotations

import pytest

from search.bench.plans import FULL, QUICK
from search.cli import build_parser, main
from search.cli.bench import SUBCOMMANDS
from search.cli.common import typed_value


@pytest.mark.parametrize("argv, new", [
    ([], "`nas-mnist bench` is now `nas-mnist bench speed`"),
    (["--quick", "--device", "cpu"], "`nas-mnist bench` is now `nas-mnist bench speed`"),
    (["--front", "--seeds", "3", "--quick"], "`bench --front` is now `nas-mnist bench front`"),
    (["--front", "--score", "d1", "--score", "d2"],
     "`bench --front --score DIR` is now `nas-mnist bench score DIR`"),
    (["--device", "cpu", "--front", "--score=d1"], "is now `nas-mnist bench score DIR`"),
])
def test_old_forms_point_to_the_new_one(argv: list[str], new: str,
                                        capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        main(["bench", *argv])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1
    assert err.startswith("nas-mnist: error: `") and new in err and "nas-mnist bench --help" in err


@pytest.mark.parametrize("sub, flag", [
    ("speed", "--seeds"), ("speed", "--against"), ("speed", "--minutes"),
    ("front", "--threads"), ("front", "--compile"), ("front", "--only"),
    ("score", "--seeds"), ("score", "--epochs"), ("score", "--jobs"), ("score", "--against"),
    ("shapes", "--draws"), ("first-epoch", "--shape"),
])
def test_a_flag_of_another_subcommand_is_refused(sub: str, flag: str,
                                                 capsys: pytest.CaptureFixture) -> None:
    argv = ["bench", sub, flag, "1"] + (["d"] if sub == "score" else [])
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"unrecognized arguments: {flag}" in err


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_every_subcommand_has_help(sub: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["bench", sub, "--help"])
    assert e.value.code == 0 and f"usage: nas-mnist bench {sub}" in capsys.readouterr().out


def test_front_help_shows_the_plans_defaults(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "front", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"wall time per arm and seed (default {FULL.minutes:g})" in out
    assert f"seeds per arm (default {FULL.seeds})" in out
    assert f"(default {FULL.jobs}; {QUICK.jobs} with --quick)" in out


def test_an_unknown_subcommand_is_argparses_own_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["bench", "frnt"])
    assert e.value.code == 2 and "invalid choice: 'frnt'" in capsys.readouterr().err


def test_score_takes_folders_and_plan_flags_only() -> None:
    ns = build_parser().parse_args(["bench", "score", "a", "b", "--minutes", "5", "--quick"])
    assert [str(d) for d in ns.dirs] == ["a", "b"] and ns.minutes == 5 and ns.quick


def test_set_values_are_typed() -> None:
    got = (typed_value("3"), typed_value("0.05"), typed_value("true"), typed_value("sgd"))
    assert got == (3, 0.05, True, "sgd")
    ns = build_parser().parse_args(["bench", "shapes", "--set", "rotate=0", "--set", "head=gap"])
    assert ns.set == [("rotate", 0), ("head", "gap")]
