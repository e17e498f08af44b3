"""load_model: how a user names a model (preset, data-driven name with its option, a .dsl file,
`file#"Model name"`, DSL text, a compiled dict), and the clear refusal for each way to get it wrong."""

from __future__ import annotations

import pytest

from attribution import UnknownModel, load_model
from attribution.models import DATA_DRIVEN, list_models, list_presets

TWO_MODELS = """model "Paid first"
  credit first_touch with 1.0
end

model "Even"
  credit all_touches with 1.0 equally
end
"""


def test_every_name_it_lists_loads():
    names = list_models()
    assert names == list_presets() + list(DATA_DRIVEN) and "linear" in names
    for name in names:
        assert load_model(name)["name"] == name


def test_a_file_of_several_models_needs_a_pick(tmp_path):
    path = tmp_path / "house.dsl"
    path.write_text(TWO_MODELS)
    with pytest.raises(UnknownModel, match=f'{path} defines 2 models; pick one with {path}#"Model name"'):
        load_model(str(path))
    assert load_model(f'{path}#"Even"')["name"] == "Even"
    assert load_model(f"{path}#Paid first")["name"] == "Paid first"
    with pytest.raises(UnknownModel, match=f'{path} has no model "Odd"; it has "Paid first", "Even"'):
        load_model(f'{path}#"Odd"')


def test_a_missing_dsl_file_is_named(tmp_path):
    missing = tmp_path / "nope.dsl"
    with pytest.raises(UnknownModel, match=f"no such model file: {missing}"):
        load_model(str(missing))


def test_dsl_text_and_compiled_dicts():
    spec = load_model('model "inline"\n  credit last_touch with 1.0\nend\n')
    assert spec["name"] == "inline" and spec["kind"] == "rules"
    bare = {key: value for key, value in spec.items() if key != "kind"}
    assert load_model(bare) == spec  # a compiled dict without its kind is a rule model
    assert load_model({"name": "m", "kind": "markov", "order": 2}) == {"name": "m", "kind": "markov", "order": 2}


@pytest.mark.parametrize(
    "name, message",
    [
        ("markov:two", "markov order must be a number: markov:2, got 'markov:two'"),
        ("markov:0", "markov order must be 1 to 4, got 0"),
        ("shapley:3", "shapley takes no option, got 'shapley:3'"),
        ("algorithmic:fast", "algorithmic takes no option, got 'algorithmic:fast'"),
    ],
)
def test_data_driven_options_are_checked(name, message):
    with pytest.raises(UnknownModel, match=message):
        load_model(name)


def test_markov_order_is_kept():
    assert load_model(" markov:3 ") == {"name": "markov:3", "kind": "markov", "order": 3}


@pytest.mark.parametrize(
    "rule, message",
    [
        ({"selector": "second_touch", "share": 1.0}, "unknown selector 'second_touch' in compiled model"),
        (
            {"selector": "all_touches", "share": 1.0, "distribution": "randomly"},
            "unknown distribution 'randomly' in compiled model",
        ),
    ],
)
def test_a_hand_written_compiled_model_with_unknown_parts_is_refused(rule, message):
    from attribution import attribute
    from tests.attribution.conftest import journey

    spec = load_model('model "m"\n  credit all_touches with 1.0 equally\nend\n')
    with pytest.raises(ValueError, match=message):
        attribute(journey(["a", "b"]), {**spec, "rules": [{**spec["rules"][0], **rule}]})
