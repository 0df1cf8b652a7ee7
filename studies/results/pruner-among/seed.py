"""Seed a new study with the warm-start trials of full3-b20000 (trials 0-7), as they finished.

The pruner A/B (docs/benchmarks.md, "Whom a draw is ranked against") resumes copies of
run 3's warm-start phase, so each arm spends its minutes on TPE's draws alone, from the same
history. Trials are added as Optuna FrozenTrials (params, values, user attrs: curve, weights'
artifact ids); their weight files are copied; dashboard notes and test scores are left behind.
With SEED the new study's sampler seed (its stored settings) is SEED instead of run 3's 0:
its search draws other trials from the same starts.
Usage: python seed.py NEW_STUDY_NAME [SEED]   (run from the repository root)
"""

import shutil
import sys
from pathlib import Path

import optuna

SRC, DIR = "full3-b20000", Path("studies/results")


def main(name: str, seed: int | None = None) -> None:
    src = optuna.load_study(study_name=SRC, storage=f"sqlite:///{DIR / SRC}.db")
    dst = optuna.create_study(study_name=name, storage=f"sqlite:///{DIR / name}.db",
                              directions=src.directions)
    for k, v in src.user_attrs.items():
        dst.set_user_attr(k, v)
    if seed is not None:
        dst.set_user_attr("settings", {**src.user_attrs["settings"], "seed": seed})
    (DIR / name / "artifacts").mkdir(parents=True)
    for t in src.get_trials(deepcopy=True):
        if not t.user_attrs.get("warm_start"):
            continue
        keep = {k: v for k, v in t.user_attrs.items() if not k.startswith("test_")}
        sys_attrs = {k: v for k, v in t.system_attrs.items() if not k.startswith("dashboard")}
        for k in ("config_file_artifact", "weights_artifact"):
            shutil.copy(DIR / SRC / "artifacts" / keep[k], DIR / name / "artifacts" / keep[k])
        dst.add_trial(optuna.trial.create_trial(
            state=t.state, values=t.values, params=t.params, distributions=t.distributions,
            user_attrs=keep, system_attrs=sys_attrs, intermediate_values=t.intermediate_values))
    print(f"{name}: {len(dst.trials)} trials from {SRC}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
