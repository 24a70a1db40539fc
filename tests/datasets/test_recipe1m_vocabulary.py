"""Recipe1M vocabulary: inverse cooking's cleaning, filters and clustering, worked out by hand."""

from cmva_keras.datasets import recipe1m_vocabulary as vocab


def test_clean_ingredient():
    assert vocab.clean_ingredient("2 Cups Extra-Virgin Olive Oil, divided!") == "cups_extra-virgin_olive_oil_divided"
    assert vocab.clean_ingredient("Mac 'n Cheese & Ham") == "mac_and_cheese_and_ham"
    assert vocab.clean_ingredient("  100% [pure] maple syrup. ") == "pure_maple_syrup"


def test_clean_instruction_drops_numbered_steps():
    assert vocab.clean_instruction("Mix [well] & serve #1") == "mix well and serve 1"
    assert vocab.clean_instruction("1. Preheat the oven.") == ""


def test_filter_bounds():
    assert vocab.passes_filter(2, 2, 20)
    assert not vocab.passes_filter(1, 5, 100)   # < 2 ingredients
    assert not vocab.passes_filter(20, 5, 100)  # >= 20 ingredients
    assert not vocab.passes_filter(5, 1, 100)   # < 2 instructions
    assert not vocab.passes_filter(5, 20, 100)  # >= 20 instructions
    assert not vocab.passes_filter(5, 5, 19)    # < 20 characters


def _recipes(names, copies, partition="train", n_instructions=3, chars=60):
    return [(partition, list(names), n_instructions, chars)] * copies


def test_clustering_plurals_and_threshold_by_hand():
    recipes = (
        _recipes(["tomatoes", "salt"], 12)
        + _recipes(["tomato", "olive_oil", "sea_salt"], 3)
        + _recipes(["cherry_tomatoes", "oil", "kosher_salt"], 5)
        + _recipes(["olive_oil", "salt"], 17)
        + _recipes(["pepper", "salt"], 100, partition="val")         # not training: not counted
        + _recipes(["pepper", "salt"], 50, n_instructions=1)          # filtered out: not counted
    )
    # Counts (train, passing the filter): tomatoes 12, salt 29, tomato 3, olive_oil 20,
    # sea_salt 3, cherry_tomatoes 5, oil 5, kosher_salt 5.
    # Clusters: tomatoes <- cherry_tomatoes (last word) = 17; olive_oil joins "oil" (last word) = 25;
    # sea_salt, kosher_salt join "salt" = 37; "tomatoes" then merges into "tomato" (plural) = 20,
    # plus the base word "tomato_sauce" (count 1, first word "tomato") = 21.
    # Order: clusters are created in counting order (tomatoes, salt, tomato, oil, ...);
    # "tomatoes" is then deleted, leaving salt, tomato, oil.
    result = vocab.build_vocabulary(recipes)
    assert result.names == ["salt", "tomato", "oil"]
    expected = {"salt": 0, "sea_salt": 0, "kosher_salt": 0,
                "tomato": 1, "tomatoes": 1, "cherry_tomatoes": 1, "tomato_sauce": 1,
                "olive_oil": 2, "oil": 2}
    for word, index in expected.items():
        assert result.word_to_class[word] == index, word
    assert "pepper" not in result.word_to_class


def test_labels_are_distinct_classes_in_first_seen_order():
    result = vocab.build_vocabulary(_recipes(["tomatoes", "salt"], 12) + _recipes(["olive_oil", "oil"], 11))
    t, s, o = (result.names.index(n) for n in ("tomato", "salt", "oil"))
    assert result.labels(["salt", "tomato", "tomatoes", "unknown_thing", "olive_oil"]) == [s, t, o]


def test_recipe_ingredients_use_valid_detections_only():
    entry = {"ingredients": [{"text": "Tomatoes"}, {"text": "2 eggs"}, {}, {"text": "Salt"}],
             "valid": [True, False, True, True]}
    assert vocab.recipe_ingredients(entry) == ["tomatoes", "salt"]
