"""The model card's feature dictionary: business labels of the input columns, optional, validated in core."""

from __future__ import annotations

import json
import re

import pytest

from core.errors import Forbidden, InvalidInput
from core.registry import catalog
from tests.conftest import make_version


def test_labels_are_stored_in_column_order_and_change_nothing_else(store, people):
    make_version(store, people["ds"], "toy-model")
    before = catalog.get_model(store, "toy-model")
    assert before.feature_dictionary == {} and before.feature_label("x1") == "x1"
    m = catalog.update_model(store, people["ds"], "toy-model",
                             feature_dictionary={"x2": "  Months since last payment ", "x1": "Credit limit"})
    assert list(m.feature_dictionary.items()) == [("x1", "Credit limit"), ("x2", "Months since last payment")]
    assert m.feature_label("x2") == "Months since last payment"
    # Optional: completeness counts the card's text fields only, so it does not move.
    assert m.card_completeness() == before.card_completeness()
    assert catalog.get_model(store, "toy-model").as_dict()["feature_dictionary"]["x1"] == "Credit limit"
    cleared = catalog.update_model(store, people["ds"], "toy-model", feature_dictionary={})
    assert cleared.feature_dictionary == {}


@pytest.mark.parametrize("dictionary, words", [
    ({"x3": "Unknown"}, "names 'x3', which is not an input column of any version; its input columns are x1, x2."),
    ({"y": "The outcome"}, "'y', which is not an input column"),
    ({"x1'); DROP TABLE models; --": "x"}, "not an input column"),
    ({"x1": ""}, "Give the label of x1"),
    ({"x1": "line one\nline two"}, "one line of text"),
    ({"x1": "x" * 81}, "1 to 80 characters"),
    ({"x1": 42}, "Give the label of x1"),
    (["x1", "Credit limit"], "must map input columns to business labels"),
])
def test_hostile_dictionaries_are_refused_in_one_sentence_with_nothing_stored(store, people, dictionary, words):
    make_version(store, people["ds"], "toy-model")
    with pytest.raises(InvalidInput) as e:
        catalog.update_model(store, people["ds"], "toy-model", feature_dictionary=dictionary)
    assert words in str(e.value)
    assert not re.search(r"\.\s+[A-Z]", str(e.value)) and "\n" not in str(e.value)  # one sentence
    assert catalog.get_model(store, "toy-model").feature_dictionary == {}


def test_a_model_without_versions_has_no_columns_to_label(store, people):
    catalog.create_model(store, people["ds"], "planned-model")
    with pytest.raises(InvalidInput, match="no registered version yet"):
        catalog.update_model(store, people["ds"], "planned-model", feature_dictionary={"x1": "Credit limit"})


def test_a_viewer_cannot_change_it(store, people):
    make_version(store, people["ds"], "toy-model")
    with pytest.raises(Forbidden):
        catalog.update_model(store, people["viewer"], "toy-model", feature_dictionary={"x1": "Credit limit"})
    assert catalog.get_model(store, "toy-model").feature_dictionary == {}


def test_the_cli_takes_json_text_a_json_file_or_a_two_column_csv(store, people, cli, tmp_path):
    make_version(store, people["ds"], "toy-model")
    r = cli(store, "models", "update", "toy-model", "--feature-dictionary", '{"x1": "Credit limit"}', "--json",
            as_="ada@example.com")
    assert r.code == 0, r.err
    assert json.loads(r.out)["feature_dictionary"] == {"x1": "Credit limit"}
    (tmp_path / "labels.csv").write_text("column,label\nx1,Credit limit (NT$)\nx2,\"Age, in years\"\n")
    r = cli(store, "models", "update", "toy-model", "--feature-dictionary", str(tmp_path / "labels.csv"), "--json",
            as_="ada@example.com")
    assert r.code == 0, r.err
    assert json.loads(r.out)["feature_dictionary"] == {"x1": "Credit limit (NT$)", "x2": "Age, in years"}
    (tmp_path / "labels.json").write_text('{"x2": "Age"}')
    r = cli(store, "models", "update", "toy-model", "--feature-dictionary", str(tmp_path / "labels.json"),
            as_="ada@example.com")
    assert r.code == 0, r.err
    assert catalog.get_model(store, "toy-model").feature_dictionary == {"x2": "Age"}
    r = cli(store, "models", "update", "toy-model", "--feature-dictionary", '{"nope": "x"}', as_="ada@example.com")
    assert r.code != 0 and "not an input column" in r.err
    r = cli(store, "models", "update", "toy-model", "--feature-dictionary", "{broken", as_="ada@example.com")
    assert r.code != 0 and "not valid JSON" in r.err


def test_the_demo_labels_credit_default(demo_store):
    m = catalog.get_model(demo_store, "credit-default")
    assert set(m.feature_dictionary) == set(m.input_columns)
    assert m.feature_label("PAY_0").startswith("Months late paying in September")
