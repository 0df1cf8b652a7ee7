"""The committed full-scale studies (studies/results/) work from a fresh clone: `pareto` reads
README's (NAME), the dashboard serves it, `export` of its best member gives a script whose stored
weights score exactly the test accuracy the evaluation stored on that trial, and every stored
weight file of every study still loads into the net its draws decode to."""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState

from search.cli import main
from search.results.pareto import front_trials
from search.results.weights import load_trial_weights
from space import Candidate, count_params, decode

from .test_dashboard import _get, _start, _wait_for
from .test_export import _standalone

ROOT = Path(__file__).resolve().parents[3] / "studies" / "results"
FIRST = "full-b20000"  # the first full-scale run; from before separable convs
SECOND = "full2-b20000"  # README's run 2
THIRD = "full3-b20000"  # README's run 3: the defaults before separable warm starts
FOURTH = "full4-b20000"  # README's run 4: separable warm starts first, two more shapes
NAME = "full5-b20000"  # README's run 5: the defaults (one warm-start shape)
THIRTY = "cpu30-b10000"  # README's 30-minute CPU command with run 3's defaults
THIRTY_SEP = "cpu30sep-b10000"  # the same command with seven warm starts
THIRTY_SEP_S1 = "cpu30sep-b10000-s1"  # its second seed
THIRTY_ONE = ("cpu30one-b10000", "cpu30one-b10000-s1")  # the defaults, two seeds (README's)
# run 3's warm starts searched on for an hour under each pruner rule (mixed: two sampler seeds)
RESUMED = ("full3-tpe-all", "full3-tpe-draws", "full3-tpe-mixed", "full3-tpe-mixed-s1")
TRANSFER = "transfer-b8000"  # budget 8,000 started from the five studies above (--warm-from)
RECIPES = {"recipe-b8000": 16, "recipe-b4000": 2}  # --net-from transfer-b8000#N: recipe searched
SEPARABLE = ("sep-b1500", "sep-b4000", "sep-b8000")  # onepool_sep warm starts first (goals)


def _copy(name: str, tmp_path: Path) -> Path:
    """A private copy: export attaches its script to the trial, which would change the commit."""
    assert (ROOT / f"{name}.db").is_file(), f"study {name} is missing from studies/results"
    dst = tmp_path / "studies"
    dst.mkdir()
    shutil.copyfile(ROOT / f"{name}.db", dst / f"{name}.db")
    shutil.copytree(ROOT / name / "artifacts", dst / name / "artifacts")
    return dst


@pytest.fixture
def published(tmp_path: Path) -> Path:
    return _copy(NAME, tmp_path)


def _study(study_dir: Path, name: str = NAME) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / f'{name}.db'}")


def test_published_study_is_what_the_readme_says(published: Path, capsys) -> None:
    study = _study(published)
    s = study.user_attrs["settings"]
    assert s["budget"] == 20_000 and s["epochs"] <= 15 and s["val_size"] == 10_000
    assert s["train_subset"] is None  # full data
    front = front_trials(study)
    assert all(count_params(Candidate.from_dict(t.user_attrs["config"]).net) == t.values[1]
               for t in front)
    assert main(["pareto", "--study", NAME, "--study-dir", str(published)]) == 0
    df = pd.read_csv(published / NAME / "pareto.csv")
    assert list(df["trial"]) == [t.number for t in front]
    committed = pd.read_csv(ROOT / NAME / "pareto.csv")
    assert list(committed["trial"]) == list(df["trial"])  # the committed table is this study's


@pytest.mark.slow
def test_export_of_the_best_member_runs(published: Path, mnist_root: Path, tmp_path: Path,
                                        capsys) -> None:
    out = tmp_path / "exp" / "best.py"
    assert main(["export", "--study", NAME, "--study-dir", str(published), "-o", str(out)]) == 0
    best = max(front_trials(_study(published)),
               key=lambda t: (t.values[0], -t.values[1], -t.number))  # select_trial's pick
    assert f"trial {best.number}" in capsys.readouterr().out
    run_dir = tmp_path / "run"  # cwd: a folder that is not this project
    run_dir.mkdir()
    r = _standalone([{"argv": [str(out), "--evaluate", str(out.with_suffix(".pt")),
                               "--data-dir", str(mnist_root)]}], cwd=run_dir)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"test accuracy: {best.user_attrs['test_acc']:.2f} %"


@pytest.mark.slow
def test_dashboard_serves_the_published_study(published: Path) -> None:
    import json

    study = _study(published)
    proc, base = _start(published)
    try:
        summaries = _wait_for(proc, f"{base}/api/studies")["study_summaries"]
        assert [s["study_name"] for s in summaries] == [NAME]
        detail = json.loads(_get(f"{base}/api/studies/{summaries[0]['study_id']}"))
        assert sorted(t["number"] for t in detail["trials"]) == [t.number for t in study.trials]
        assert sorted(t["number"] for t in detail["best_trials"]) == sorted(
            t.number for t in front_trials(study))
        served = {t["number"]: {a["key"] for a in t["user_attrs"]} for t in detail["trials"]}
        assert all({"test_mean", "test_acc"} <= served[t.number] for t in study.trials
                   if "test_mean" in t.user_attrs)  # the evaluation's figures are browsable
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("name", [FIRST, SECOND, THIRD, FOURTH, NAME, THIRTY, THIRTY_SEP,
                                  THIRTY_SEP_S1, *THIRTY_ONE, *RESUMED,
                                  TRANSFER, *RECIPES, *SEPARABLE])
def test_every_stored_weight_file_loads_into_the_net_its_draws_decode_to(name: str,
                                                                         tmp_path: Path) -> None:
    study_dir = _copy(name, tmp_path)
    study = _study(study_dir, name)
    store = FileSystemArtifactStore(str(study_dir / name / "artifacts"))
    budget = study.user_attrs["settings"]["budget"]
    loaded = 0
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        stored = Candidate.from_dict(t.user_attrs["config"])
        cand = decode(t.params, budget, stored.train.epochs) if t.params else stored
        assert cand == stored
        # the first study's weights predate separable convs: their keys (body.<i>.0.weight,
        # ...) are still the keys of the nets its draws decode to
        assert name != FIRST or not any(c.sep for c in cand.net.convs)
        load_trial_weights(t, cand, store)  # strict load into build(cand.net); one-line errors
        loaded += 1
    assert loaded >= 7  # every study completed at least 7 trials (sep-b4000: 7)


def test_each_transfer_is_the_net_and_recipe_of_its_source_trial() -> None:
    """What `--warm-from` queued in the committed study: the source trial's recipe always, its
    very net where it fitted 8,000 params, else the same layers narrower."""
    study = _study(ROOT, TRANSFER)
    moved = [t for t in study.trials if "#" in t.user_attrs.get("warm_start", "")]
    assert len(moved) == 14
    for t in moved:
        name, rest = t.user_attrs["warm_start"].split("#")
        src = _study(ROOT, name).trials[int(rest.split("@")[0])]
        was, now = (Candidate.from_dict(x.user_attrs["config"]) for x in (src, t))
        assert now.train == was.train
        if src.user_attrs["params"] <= 8_000:
            assert now.net == was.net
        else:
            assert [c.k for c in now.net.convs] == [c.k for c in was.net.convs]
            assert t.user_attrs["params"] <= 8_000


@pytest.mark.parametrize(("name", "number"), RECIPES.items())
def test_the_recipe_study_trains_its_source_net_in_every_trial(name: str, number: int) -> None:
    """What `--net-from` made of the committed study: the source trial's net in every trial,
    its own recipe first, then a new recipe in each."""
    study = _study(ROOT, name)
    src = Candidate.from_dict(_study(ROOT, TRANSFER).trials[number].user_attrs["config"])
    cands = [Candidate.from_dict(t.user_attrs["config"]) for t in study.trials]
    assert study.trials[0].user_attrs["warm_start"].startswith(f"{TRANSFER}#{number}@")
    assert cands[0] == src
    assert all(c.net == src.net for c in cands)
    assert len({c.train for c in cands}) == len(cands) > 10


def test_separable_rows_are_the_nets_the_docs_name_and_beat_their_plain_pairs() -> None:
    """studies/results/separable-15ep: queue a trained plain shapes, queue b the same shapes with
    separable convs at the same size and seed, in the same order; docs/benchmarks.md's claim
    ("separable wins in all seven pairs") and the adopted warm-start shape rest on these rows."""
    import json

    from space import size_for
    from space.warmstart import FAST_RECIPE, SHAPES

    rows = {q: [json.loads(line) for line in (ROOT / "separable-15ep" / f"{q}.jsonl").open()]
            for q in "ab"}
    pairs = list(zip(rows["a"], rows["b"], strict=False))
    assert len(pairs) == 7
    for plain, sep in pairs:
        assert (plain["shape"], plain["target"]) == (sep["shape"], sep["target"])
        assert not plain.get("sep1") and sep["sep1"] and " s" in sep["arch"]
        assert max(plain["params"], sep["params"]) <= plain["target"]
        assert sep["val_acc"][-1] > plain["val_acc"][-1], (plain["shape"], plain["target"])
    # the warm-start shape onepool_sep is queue b's onepool, size for size
    for _, sep in pairs:
        if sep["shape"] == "onepool":
            p = {**SHAPES["onepool_sep"], **FAST_RECIPE}
            p["size"] = size_for(p, 10_000, sep["target"])
            assert count_params(decode(p, 10_000).net) == sep["params"]


def test_deeper_separable_rows_are_their_nets_and_lose_to_onepool_sep() -> None:
    """studies/results/deepsep-15ep: each row is onepool_sep with its --set overrides, re-widthed
    under budget 4,000; docs/benchmarks.md drops both deeper shapes because onepool_sep scored
    higher in both seeds."""
    import json

    from space import describe, size_for
    from space.warmstart import FAST_RECIPE, SHAPES

    folder = ROOT / "deepsep-15ep"
    rows = [json.loads(line) for q in "ab" for line in (folder / f"{q}.jsonl").open()]
    assert sorted((r["seed"], r["variant"]) for r in rows) == sorted(
        (s, v) for s in (0, 1) for v in ("onepool_sep", "twoconv", "deep_p1"))
    meta = {"seed", "variant", "shape", "target", "params", "arch", "val_acc", "seconds"}
    for r in rows:
        overrides = {k: v for k, v in r.items() if k not in meta}
        p = {**SHAPES["onepool_sep"], **FAST_RECIPE, **overrides}
        p["size"] = size_for(p, 4_000, r["target"])
        net = decode(p, 4_000).net
        assert (count_params(net), describe(net)) == (r["params"], r["arch"]), r["variant"]
        assert r["params"] <= 4_000 and len(r["val_acc"]) == 15
    final = {(r["seed"], r["variant"]): r["val_acc"][-1] for r in rows}
    for seed in (0, 1):
        assert final[seed, "onepool_sep"] > max(final[seed, "twoconv"], final[seed, "deep_p1"])
