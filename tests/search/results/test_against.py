"""Verdicts against the references on synthetic studies (in-memory storage, planted scores)."""

from __future__ import annotations

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from search.results.against import against_references, deciding
from search.results.report import report_markdown
from space import REFERENCES, REPORTED

X = {"x": FloatDistribution(0, 1)}


def _study(rows: list[tuple[float, int, dict]]) -> optuna.Study:
    study = optuna.create_study(directions=["maximize", "minimize"])
    for val, params, attrs in rows:
        study.add_trial(create_trial(values=[val, params], params={"x": 0.5}, distributions=X,
                                     user_attrs={"arch": "c4 gap", "val_acc": [val], **attrs}))
    return study


ROWS = [
    (98.00, 1_400, {}),                                                            # 0
    (99.00, 5_000, {"test_acc": 99.1, "test_mean": 99.20, "test_sd": 0.1,
                    "test_runs": [99.1, 99.2, 99.3]}),                             # 1
    (99.00, 5_900, {"test_mean": 90.0, "test_runs": [90.0]}),                      # 2: tie, larger
    (99.30, 9_000, {"test_acc": 99.60}),                                           # 3: once only
    (99.90, 10_224, {"reference": "ref10224", "test_acc": 99.35}),                 # 4: a reference
    (99.40, 12_000, {"test_mean": 99.40, "test_sd": 0.05, "test_runs": [1, 2, 3]}),  # 5
    (99.50, 18_000, {"test_mean": 99.45, "test_sd": 0.02, "test_runs": [1, 2, 3]}),  # 6
    (99.95, 30_000, {"test_mean": 99.9, "test_runs": [1, 2, 3]}),                  # 7: too big
]


def test_found_is_the_best_own_net_on_validation_at_or_under_each_reference() -> None:
    study = _study(ROWS)
    study.add_trial(create_trial(state=TrialState.PRUNED, params={"x": 0.5}, distributions=X,
                                 intermediate_values={0: 99.99}))
    v = {x.reference: x for x in against_references(study)}
    assert list(v) == sorted(REFERENCES, key=lambda r: v[r].params)
    assert v["ref6016"].found.number == 1  # the tie at 99.00 goes to fewer params
    assert v["ref9902"].found.number == 3
    assert v["ref10224"].found.number == 3  # never the reference itself, though best on val
    assert v["ref10224"].in_study.number == 4 and v["ref6016"].in_study is None
    assert v["ref13914"].found.number == 5 and v["ref18448"].found.number == 6
    assert all(x.reported == REPORTED[x.reference] for x in v.values())


def test_only_a_retrained_mean_decides() -> None:
    v = {x.reference: x for x in against_references(_study(ROWS))}
    assert v["ref6016"].dominates is True  # 99.20 >= 99.10
    assert v["ref9902"].dominates is None  # 99.60 once, on 50k images: not decided
    assert v["ref13914"].dominates is False  # 99.40 < 99.43
    assert v["ref18448"].dominates is True  # 99.45 >= 99.43
    md = report_markdown(_study(ROWS)).split("## Against the references")[1]
    assert "| ref13914 | 13,914 | 99.43 | - | trial 5, 12,000 params | 99.40 | - | " \
           "99.40 ± 0.05 (n=3) | no (-0.03 pp) |" in md
    assert "| ref9902 | 9,902 | 99.12 | - | trial 3, 9,000 params | 99.30 | 99.60 | - | " \
           "not decided |" in md
    assert "| ref10224 | 10,224 | 99.49 | trial 4: 99.90, 99.35 | trial 3, 9,000 params" in md
    assert md.count("not decided") == 3  # ref9902, ref10224 (rows), and the caption


def test_nothing_small_enough_is_no_and_deciding_lists_the_picks_by_size() -> None:
    study = _study(ROWS[3:])
    v = {x.reference: x for x in against_references(study)}
    assert v["ref6016"].found is None and v["ref6016"].dominates is False
    assert "| ref6016 | 6,016 | 99.10 | - | - | - | - | - | no |" in report_markdown(study)
    assert deciding(study) == [0, 2, 3]  # trial numbers within this study: 9k, 12k, 18k
    assert deciding(study, caps=(1_500, 40_000)) == [0, 2, 3, 4]  # 1.5k: none; 40k: the 30k
    assert deciding(_study(ROWS), caps=(1_500,)) == [0, 1, 3, 5, 6]
