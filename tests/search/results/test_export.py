"""`nas-mnist export`: the generated script, its weights, its artifact, and its errors."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import optuna
import pytest
import torch
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState

from search.cli import main
from search.results.export import ScriptInfo, convert_state_dict, key_map, render, verify
from search.results.export_trial import DASHBOARD_TRIAL_ARTIFACT
from search.results.pareto import front_trials
from search.training.data import load_test, normalize
from search.training.train import evaluate
from space import REFERENCES, Candidate, Conv, Head, NetConfig, TrainConfig, build, count_params
from space import decode as decode_draw
from space.warmstart import FAST_RECIPE, SHAPES

# nets with separable convs (every act order, padding, bias and dropout kind around them): one by
# hand, and ref10224's shape drawn with every conv but the first separable
SEPARABLE = {
    "sep-hand": Candidate(NetConfig((
        Conv(6, pad=1, act="bn_relu", bias=False, pool=True),
        Conv(8, pad=1, act="relu_bn", drop=0.1, sep=True),
        Conv(12, act="bn_relu", bias=False, pool=True, drop=0.1, drop2d=True, sep=True),
        Conv(9, act="relu", sep=True),
        Conv(10, k=1, act="none"),
    ), Head("gap")), TrainConfig(rotate=5.0)),
    "sep-ref10224": decode_draw({**SHAPES["ref10224"], **FAST_RECIPE, "size": 1.0,
                                 **{f"sep{j}": True for j in range(1, 7)}}, 5000),
}

# The venv installs this project editable: a .pth file in site-packages installs an import hook
# that finds `space` and `search` from any folder, and `python -I` still runs .pth files. So the
# script runs under `python -I -S` (no site: no .pth files, no PYTHONPATH, no user site, no cwd),
# and this bootstrap puts back only the site-packages folders themselves, where torch and
# torchvision live; it refuses to go on if the project is importable all the same. It runs the
# script's command lines one after another in one interpreter (torch is imported once).
_BOOT = """\
import importlib.util, json, runpy, sys
sys.path += sys.argv[1].split(":")
if importlib.util.find_spec("space") or importlib.util.find_spec("search"):
    sys.exit("nas-mnist is importable: the script is not running stand-alone")
for run in json.loads(sys.argv[2]):
    sys.argv = run["argv"]
    ns = runpy.run_path(sys.argv[0], run_name="__main__")
    if run.get("logits"):  # the exported Net's logits with the weights passed to --evaluate
        import torch
        batch, out = run["logits"]
        net = ns["Net"]()
        weights = sys.argv[sys.argv.index("--evaluate") + 1]
        net.load_state_dict(torch.load(weights, weights_only=True))
        with torch.no_grad():
            torch.save(net.eval()(torch.load(batch, weights_only=True)), out)
"""


def _standalone(runs: list[dict], cwd: Path) -> subprocess.CompletedProcess:
    """Run the script's command lines ({"argv": [script, ...], "logits": [in, out]}) stand-alone."""
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd),
           "OMP_NUM_THREADS": "2"}
    argv = [sys.executable, "-I", "-S", "-c", _BOOT, ":".join(site), json.dumps(runs)]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def study_rw(finished_study, tmp_path_factory) -> tuple[Path, str]:
    """A writable copy of the finished study, shared by this module's tests."""
    src, name = finished_study
    dst = tmp_path_factory.mktemp("export") / "studies"
    shutil.copytree(src, dst)
    return dst, name


def _study(study_dir: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / f'{name}.db'}")


def _weights(study_dir: Path, name: str, trial) -> dict[str, torch.Tensor]:
    store = FileSystemArtifactStore(str(study_dir / name / "artifacts"))
    with store.open_reader(trial.user_attrs["weights_artifact"]) as f:
        return torch.load(f, weights_only=True)


def _exec(source: str) -> dict:
    ns: dict = {"__name__": "exported"}
    exec(compile(source, "exported.py", "exec"), ns)
    return ns


def test_completed_trials_keep_weights_and_config(study_rw):
    study_dir, name = study_rw
    study = _study(study_dir, name)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert done
    for t in done:
        cand = Candidate.from_dict(t.user_attrs["config"])
        state = _weights(study_dir, name, t)
        build(cand.net).load_state_dict(state)  # strict: the stored weights fit the config
        store = FileSystemArtifactStore(str(study_dir / name / "artifacts"))
        with store.open_reader(t.user_attrs["config_file_artifact"]) as f:
            assert json.load(f) == t.user_attrs["config"]
    for t in study.get_trials(states=(TrialState.PRUNED,)):
        assert "weights_artifact" not in t.user_attrs


def test_separable_nets_are_separable():
    for cand in SEPARABLE.values():
        assert sum(c.sep for c in cand.net.convs) >= 3


@pytest.mark.parametrize("ref", sorted(REFERENCES) + sorted(SEPARABLE))
def test_key_map_covers_every_layer_kind(ref):
    # the references span every head (flatten, gap, gap_conv, gap_linear + hidden) and act order;
    # the separable nets add depthwise + pointwise pairs
    cand = {**REFERENCES, **SEPARABLE}[ref]
    ours = build(cand.net)
    for p in ours.parameters():  # distinct values, so a swapped mapping cannot pass
        torch.nn.init.normal_(p)
    ns = _exec(render(cand, ScriptInfo("s", 0, None)))
    theirs = ns["Net"]()
    converted = convert_state_dict(cand.net, ours.state_dict())
    assert set(converted) == set(theirs.state_dict())
    theirs.load_state_dict(converted)  # strict
    assert sum(p.numel() for p in theirs.parameters()) == count_params(cand.net) == ns["PARAMS"]
    names = key_map(cand.net).values()
    assert all(re.fullmatch(r"(conv|bn|dw|pw)\d+|conv_out|fc\d?", v) for v in names)
    x = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(theirs.eval()(x), ours.eval()(x))
    verify(render(cand, ScriptInfo("s", 0, None)), cand, ours.state_dict())  # export's own check


def _assert_plain_pytorch(source: str) -> None:
    """Only torch, torchvision and the standard library; passes the project's linter."""
    tree = ast.parse(source)
    roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert roots - set(sys.stdlib_module_names) == {"torch", "torchvision"}
    assert "def forward(self, x):" in source and "weights_only=True" in source
    ruff = shutil.which("ruff")
    if ruff:  # readable: it passes the project's own linter
        argv = [ruff, "check", "--no-cache", "--isolated", "--line-length", "100",
                "--select", "E,F,W,I,B,UP,RUF", "-"]
        r = subprocess.run(argv, input=source, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout


def test_script_is_plain_pytorch(study_rw):
    study_dir, name = study_rw
    t = front_trials(_study(study_dir, name))[0]
    source = render(Candidate.from_dict(t.user_attrs["config"]), ScriptInfo(name, t.number, 99.0))
    assert "class Net(nn.Module):" in source and "self.conv1 = nn.Conv2d(1, " in source
    _assert_plain_pytorch(source)


@pytest.mark.parametrize("name", sorted(SEPARABLE))
def test_separable_script_is_plain_pytorch(name):
    source = render(SEPARABLE[name], ScriptInfo("s", 0, None))
    assert "self.conv1 = nn.Conv2d(1, " in source  # the first conv is never separable
    assert re.search(r"self\.dw2 = nn\.Conv2d\((\d+), \1, 3, .*groups=\1, bias=False\)", source)
    assert "self.pw2(self.dw2(x))" in source
    _assert_plain_pytorch(source)


def test_script_checks_its_param_count(study_rw, monkeypatch):
    study_dir, name = study_rw
    t = front_trials(_study(study_dir, name))[0]
    source = render(Candidate.from_dict(t.user_attrs["config"]), ScriptInfo(name, t.number, None))
    ns = _exec(source.replace(f"PARAMS = {int(t.values[1])} ", f"PARAMS = {int(t.values[1]) + 1} "))
    monkeypatch.setattr(sys, "argv", ["x.py", "--evaluate", "nothing.pt"])
    with pytest.raises(SystemExit, match="parameters, the trial had"):
        ns["main"]()


def test_export_best_and_max_params(study_rw, capsys):
    study_dir, name = study_rw
    front = front_trials(_study(study_dir, name))
    best = max(front, key=lambda t: (t.values[0], -t.values[1]))
    assert main(["export", "--study", name, "--study-dir", str(study_dir), "--best"]) == 0
    script = study_dir / name / "export" / f"trial_{best.number}.py"
    assert script.is_file() and script.with_suffix(".pt").is_file()
    assert f"Trial {best.number} of nas-mnist study '{name}'" in script.read_text()

    cap = int(front[0].values[1])  # the smallest member is the only one within its own size
    assert main(["export", "--study", name, "--study-dir", str(study_dir),
                 "--max-params", str(cap), "-o", str(study_dir / "small.py")]) == 0
    assert f"trial {front[0].number} " in capsys.readouterr().out
    assert not list(study_dir.glob(".*.tmp")) and (study_dir / "small.pt").is_file()


def test_export_attaches_the_script_to_the_trial(study_rw):
    study_dir, name = study_rw
    t = front_trials(_study(study_dir, name))[-1]
    args = ["export", "--study", name, "--study-dir", str(study_dir), "--trial", str(t.number)]
    assert main(args) == 0
    assert main(args) == 0  # a re-export replaces the attached copy
    study = _study(study_dir, name)
    prefix = f"{DASHBOARD_TRIAL_ARTIFACT}{t._trial_id}:"
    metas = [json.loads(v) for k, v in study._storage.get_study_system_attrs(study._study_id)
             .items() if k.startswith(prefix) and json.loads(v)]
    # one copy per script name (other tests of this module export the same trial as other files)
    mine = [m for m in metas if m["filename"] == f"trial_{t.number}.py"]
    assert len(mine) == 1
    store = FileSystemArtifactStore(str(study_dir / name / "artifacts"))
    script = study_dir / name / "export" / f"trial_{t.number}.py"
    with store.open_reader(mine[0]["artifact_id"]) as f:
        assert f.read() == script.read_bytes()


@pytest.mark.slow
def test_exported_script_runs_standalone(study_rw, mnist_root, tiny_data, tmp_path):
    study_dir, name = study_rw
    t = front_trials(_study(study_dir, name))[-1]
    out = tmp_path / "exp" / f"trial_{t.number}.py"
    assert main(["export", "--study", name, "--study-dir", str(study_dir),
                 "--trial", str(t.number), "-o", str(out)]) == 0
    weights = out.with_suffix(".pt")
    run_dir = tmp_path / "run"  # cwd: a folder that is not this project
    run_dir.mkdir()

    # evaluate the exported weights and dump the exported Net's logits on a fixed batch; then
    # retrain from scratch for one epoch on a small subset
    x = normalize(tiny_data.val.x[:64])
    torch.save(x, tmp_path / "batch.pt")
    data = ["--data-dir", str(mnist_root)]
    r = _standalone([
        {"argv": [str(out), "--evaluate", str(weights), *data],
         "logits": [str(tmp_path / "batch.pt"), str(tmp_path / "lg.pt")]},
        {"argv": [str(out), "--train", "--epochs", "1", "--train-subset", "256", *data,
                  "--save", "again.pt"]},
    ], cwd=run_dir)
    assert r.returncode == 0, r.stderr
    evaluated, trained = r.stdout.split("epoch 1/1: train loss")

    cand = Candidate.from_dict(t.user_attrs["config"])
    ours = build(cand.net)
    ours.load_state_dict(_weights(study_dir, name, t))
    with torch.no_grad():
        expected = ours.eval()(x)
    torch.testing.assert_close(torch.load(tmp_path / "lg.pt", weights_only=True), expected)
    acc, _ = evaluate(ours, load_test(mnist_root, download=False))
    assert evaluated.strip() == f"test accuracy: {100 * acc:.2f} %"

    assert "saved weights to again.pt" in trained and "test accuracy:" in trained
    again = torch.load(run_dir / "again.pt", weights_only=True)
    assert set(again) == set(torch.load(weights, weights_only=True))


@pytest.mark.slow
def test_separable_script_evaluates_standalone(mnist_root, tmp_path):
    # no study needed: the script of a separable net, its weights as export writes them
    cand = SEPARABLE["sep-ref10224"]
    torch.manual_seed(0)
    ours = build(cand.net).eval()
    script = tmp_path / "sep.py"
    script.write_text(render(cand, ScriptInfo("s", 0, None, stem="sep")))
    weights = tmp_path / "sep.pt"
    torch.save(convert_state_dict(cand.net, ours.state_dict()), weights)
    x = torch.randn(16, 1, 28, 28)
    torch.save(x, tmp_path / "batch.pt")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    r = _standalone([{"argv": [str(script), "--evaluate", str(weights), "--data-dir",
                               str(mnist_root)],
                      "logits": [str(tmp_path / "batch.pt"), str(tmp_path / "lg.pt")]}],
                    cwd=run_dir)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("test accuracy: ")
    with torch.no_grad():
        torch.testing.assert_close(torch.load(tmp_path / "lg.pt", weights_only=True), ours(x))


def _one_line_error(capsys, argv: list[str], match: str) -> None:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc != 0
    assert len(err.strip().splitlines()) == 1 and match in err, err


def test_export_errors(study_copy, tmp_path, capsys):
    study_dir, name = study_copy
    base = ["export", "--study-dir", str(study_dir)]
    _one_line_error(capsys, base + ["--study", "nope"], "no study named 'nope'")
    _one_line_error(capsys, base + ["--study", name, "--trial", "99"], "has no trial 99")
    _one_line_error(capsys, base + ["--study", name, "--max-params", "10"], "at most 10 params")
    _one_line_error(capsys, base + ["--study", name, "-o", str(tmp_path / "x.txt")], "end in .py")

    study = _study(study_dir, name)
    study.add_trial(optuna.trial.create_trial(state=TrialState.PRUNED,
                                              user_attrs={"params": 100, "val_acc": [50.0]}))
    pruned = study.get_trials(states=(TrialState.PRUNED,))[-1].number
    _one_line_error(capsys, base + ["--study", name, "--trial", str(pruned)], "not completed")

    t = front_trials(study)[0]
    (study_dir / name / "artifacts" / t.user_attrs["weights_artifact"]).unlink()
    _one_line_error(capsys, base + ["--study", name, "--trial", str(t.number)],
                    "weights of trial")
    assert not (study_dir / name / "export").exists()  # nothing written on any error


@pytest.mark.slow
def test_printed_command_works_offline_and_reads_only_the_test_set(study_rw, mnist_root,
                                                                    tmp_path, capsys):
    study_dir, name = study_rw
    out = tmp_path / "exp" / "best.py"
    assert main(["export", "--study", name, "--study-dir", str(study_dir), "-o", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()[1].split()
    weights = out.with_suffix(".pt")
    # the search had --data-dir (the finished_study fixture): the command repeats it
    assert printed == ["python", str(out), "--evaluate", str(weights),
                       "--data-dir", str(mnist_root.resolve())]

    test_only = tmp_path / "test-only"  # --evaluate needs the two test files, nothing else
    (test_only / "MNIST" / "raw").mkdir(parents=True)
    for f in (mnist_root / "MNIST" / "raw").glob("t10k-*"):
        shutil.copyfile(f, test_only / "MNIST" / "raw" / f.name)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    r = _standalone([{"argv": [str(out), "--evaluate", str(weights), "--data-dir", str(test_only)]},
                     {"argv": [str(out), "--help"]}], cwd=run_dir)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("test accuracy: ")
    usage = " ".join(r.stdout.split())
    assert "--device DEVICE where to run: cpu, cuda or cuda:N" in usage
    assert "--seed K --train's seed" in usage and "$NAS_MNIST_DATA" in usage

    # no MNIST anywhere (HOME is run_dir, no $NAS_MNIST_DATA): one line, exit != 0, nothing made
    for argv in ([str(out), "--evaluate", str(weights)], [str(out), "--train"]):
        r = _standalone([{"argv": argv}], cwd=run_dir)
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert r.stderr.strip().count("\n") == 0 and "MNIST" in r.stderr
        assert "files not found in " + str(run_dir / ".cache" / "nas-mnist") in r.stderr
        assert not any(run_dir.iterdir())


def test_script_of_a_zoom_and_weight_average_recipe_trains_with_both(mnist_root, tmp_path):
    from dataclasses import replace

    ref = REFERENCES["ref6016"]
    cand = Candidate(ref.net, replace(ref.train, rotate=5.0, scale=0.1, ema_epochs=0.5))
    source = render(cand, ScriptInfo(study="s", trial=0, val_acc=None))
    assert "scale=(1 - SCALE, 1 + SCALE)" in source and "AveragedModel(" in source
    script = tmp_path / "model.py"
    script.write_text(source)
    r = _standalone([{"argv": [str(script), "--train", "--epochs", "1", "--train-subset", "128",
                               "--data-dir", str(mnist_root), "--save", "w.pt"]}], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "saved weights to w.pt" in r.stdout and "test accuracy:" in r.stdout
    ours = convert_state_dict(cand.net, build(cand.net).state_dict())
    assert set(torch.load(tmp_path / "w.pt", weights_only=True)) == set(ours)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_scripts_of_every_recipe_kind_pass_the_linter(name):
    # ref6016 trains without augmentation (no transforms import); a zoom + EMA recipe too
    from dataclasses import replace

    cand = REFERENCES[name]
    for c in (cand, Candidate(cand.net, replace(cand.train, scale=0.1, ema_epochs=1.0))):
        _assert_plain_pytorch(render(c, ScriptInfo("s", 0, None)))
