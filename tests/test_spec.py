"""Metric spec files (TOML / JSON) and their errors."""

import pytest

import riskbench
from riskbench.errors import InputError


def test_toml_and_json(tmp_path):
    toml = tmp_path / "m.toml"
    toml.write_text('[metrics.win]\nweight = 2\n[metrics.tox]\nhigher_is_better = false\n')
    spec = riskbench.read_metric_spec(toml)
    assert spec.higher_is_better == {"win": True, "tox": False}
    assert spec.weights == {"win": 2.0}
    js = tmp_path / "m.json"
    js.write_text('{"metrics": {"win": {"weight": 2}, "tox": {"higher_is_better": false}}}')
    assert riskbench.read_metric_spec(js) == riskbench.MetricSpec(
        spec.higher_is_better, spec.weights, str(js))


@pytest.mark.parametrize("text,message", [
    ('[metrics.win]\nhigher = true\n',
     "{path}: metrics.win: unknown key(s) 'higher'; the keys are higher_is_better and weight"),
    ('[metrics.win]\nhigher_is_better = "yes"\n',
     "{path}: metrics.win.higher_is_better must be true or false; got 'yes'"),
    ('[metrics.win]\nweight = -1\n', "{path}: metrics.win.weight must be a number >= 0; got -1"),
    ('[other]\nx = 1\n', "{path}: expected a [metrics.NAME] table per metric (JSON: "
                         '{{"metrics": {{"NAME": {{...}}}}}})'),
])
def test_errors(tmp_path, text, message):
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        riskbench.read_metric_spec(path)
    assert str(info.value) == message.format(path=path)
