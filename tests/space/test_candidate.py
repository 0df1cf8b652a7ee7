"""space.candidate: dict / JSON round trips, load errors, and the one-line summary."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from space import (
    REFERENCES,
    Candidate,
    ConfigError,
    Conv,
    Head,
    NetConfig,
    describe,
    load_candidate,
)
from space.config import N_CLASSES


def some_candidates(draws) -> list[Candidate]:
    return list(REFERENCES.values()) + [c for _, c in draws(10_000)[:40]]


def test_dict_round_trip(draws):
    for cand in some_candidates(draws):
        assert Candidate.from_dict(cand.to_dict()) == cand
        assert Candidate.from_dict(json.loads(cand.to_json())) == cand


def test_json_file_round_trip(draws, tmp_path):
    for i, cand in enumerate(some_candidates(draws)):
        path = tmp_path / f"c{i}.json"
        path.write_text(cand.to_json())
        back = load_candidate(path)
        assert back == cand
        assert load_candidate(str(path)) == cand
        assert back.to_json() == cand.to_json()


def test_to_json_is_canonical():
    cand = REFERENCES["ref9902"]
    text = cand.to_json()
    assert text == json.dumps(json.loads(text), sort_keys=True)
    assert "\n" not in text


def test_candidate_is_frozen():
    cand = REFERENCES["ref6016"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cand.net = cand.net  # type: ignore[misc]
    assert hash(cand) == hash(Candidate.from_dict(cand.to_dict()))


def _one_line_config_error(path) -> str:
    with pytest.raises(ConfigError) as ei:
        load_candidate(path)
    msg = str(ei.value)
    assert msg and "\n" not in msg
    return msg


def test_load_missing_file(tmp_path):
    path = tmp_path / "missing.json"
    assert str(path) in _one_line_config_error(path)


def test_load_directory(tmp_path):
    assert str(tmp_path) in _one_line_config_error(tmp_path)


@pytest.mark.parametrize("text", ["", "{", "not json", "{'net': 1}", "[1, 2"])
def test_load_non_json(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    msg = _one_line_config_error(path)
    assert str(path) in msg and "JSON" in msg


@pytest.mark.parametrize(
    "obj",
    [
        [1, 2],
        "net",
        None,
        42,
        {"a": 1},
        {"net": {"convs": [], "head": {}}},  # no train
        {"train": {}},  # no net
        {"net": {"convs": [{"out": 4, "width": 3}], "head": {}}, "train": {}},  # foreign field
        {"net": {"convs": [{"out": 4}], "head": {"kind": "gap", "n": 1}}, "train": {}},
        {"net": {"convs": 5, "head": {}}, "train": {}},
        {"net": {"convs": [{"out": 4}], "head": {}}, "train": {"epochs": 0}},  # invalid recipe
        {"net": {"convs": [{"out": 4}], "head": {}}, "train": {"momentum_x": 0.9}},
    ],
)
def test_load_foreign_json(tmp_path, obj):
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(obj))
    _one_line_config_error(path)


def test_load_binary_file(tmp_path):
    path = tmp_path / "weights.pt"
    path.write_bytes(b"\x80\x02\xff\xfe binary, not UTF-8")
    _one_line_config_error(path)


@pytest.mark.parametrize(
    "net",
    [
        {"convs": [], "head": {}},  # no conv
        {"convs": [{"out": 4, "k": 5}], "head": {}},  # 5x5 kernel
        {"convs": [{"out": 4}], "head": {"kind": "flatten"}},  # flatten on 26x26, 4 channels
    ],
)
def test_load_invalid_net(tmp_path, net):
    path = tmp_path / "invalid.json"
    path.write_text(json.dumps({"net": net, "train": {}}))
    _one_line_config_error(path)


# ---------------------------------------------------------------- describe


def _widths(line: str) -> list[int]:
    # 'c8' is a 3x3 conv, 'c8p' a padded one, 's8' / 's8p' separable ones, 't8' a 1x1 transition
    return [int(w) for w in re.findall(r"(?<!\S)[cst](\d+)p?(?!\S)", line)]


@pytest.mark.parametrize("name", list(REFERENCES))
def test_describe_references(name):
    net = REFERENCES[name].net
    line = describe(net)
    assert line and "\n" not in line
    assert _widths(line) == [c.out for c in net.convs]
    assert line.count("P |") == sum(c.pool for c in net.convs)
    assert line == describe(REFERENCES[name].net)


def test_describe_distinguishes_references():
    lines = [describe(c.net) for c in REFERENCES.values()]
    assert len(set(lines)) == len(lines)


def test_describe_sampled(draws):
    for _, cand in draws(10_000):
        line = describe(cand.net)
        assert "\n" not in line
        assert _widths(line) == [c.out for c in cand.net.convs]
        tokens = re.findall(r"(?<!\S)[cst]\d+p?(?!\S)", line)
        assert [t[0] == "s" for t in tokens] == [c.sep for c in cand.net.convs]


def test_describe_separable_tokens():
    net = NetConfig((Conv(8, pad=1, pool=True), Conv(16, sep=True), Conv(16, pad=1, sep=True),
                     Conv(12, k=1), Conv(N_CLASSES, k=1, act="none")), Head(kind="gap"))
    assert describe(net).startswith("c8p P | s16 s16p t12 t10 gap ")


@pytest.mark.parametrize("name", list(REFERENCES))
def test_config_without_sep_field_loads_as_plain_convs(name):
    # configs stored before Conv had `sep` (every committed study's) read back unchanged
    cand = REFERENCES[name]
    d = cand.to_dict()
    for c in d["net"]["convs"]:
        assert c.pop("sep") is False
    assert Candidate.from_dict(d) == cand
