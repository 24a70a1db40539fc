"""Yummly-28K ingredient extraction: real-looking lines, expectations written by hand."""

import pytest

from cmva_keras.datasets import ingredient_parser, ingredient_vocabulary
from cmva_keras.synthetic import food

LINES = [
    ("2 (14.5 oz.) cans diced tomatoes, drained", ["tomato"]),
    ("1 1/2 cups all-purpose flour", ["flour"]),
    ("Salt and freshly ground black pepper, to taste", ["salt", "black pepper"]),
    ("3 cloves garlic, minced", ["garlic"]),
    ("2 garlic cloves", ["garlic"]),
    ("1/4 tsp ground cloves", ["cloves"]),
    ("1 lb. spaghetti", ["pasta"]),
    ("8 ounces elbow macaroni", ["pasta"]),
    ("2 boneless, skinless chicken breasts", ["chicken"]),
    ("1/4 cup extra-virgin olive oil", ["olive oil"]),
    ("½ teaspoon ground cinnamon", ["cinnamon"]),
    ("2 large eggs, lightly beaten", ["egg"]),
    ("1 cup shredded sharp cheddar cheese", ["cheddar"]),
    ("3 green onions, thinly sliced", ["green onion"]),
    ("4 scallions", ["green onion"]),
    ("1/2 cup chopped fresh cilantro leaves", ["cilantro"]),
    ("2 tablespoons butter or margarine", ["butter"]),
    ("1 cup half-and-half", ["heavy cream"]),
    ("1 (8 oz) package cream cheese, softened", ["cream cheese"]),
    ("juice of 1 lemon", ["lemon juice"]),
    ("1 cup milk chocolate chips", ["chocolate chips"]),
    ("1 tablespoon crushed red pepper flakes", ["red pepper flakes"]),
    ("1 jalapeño, seeded and minced", ["chili pepper"]),
    ("4 cups low-sodium chicken broth", ["chicken broth"]),
    ("1 pint vanilla ice cream", ["ice cream"]),
    ("2 cups fresh basil leaves", ["basil"]),
    ("1 red bell pepper, diced", ["bell pepper"]),
    ("2 ripe avocados", ["avocado"]),
    ("1 cup grated Parmigiano-Reggiano", ["parmesan"]),
    ("1 tsp xanthan gum", ["xanthan gum"]),  # not in the table: cleaned name kept
    ("For the sauce:", []),
    ("Topping:", []),
    ("", []),
]


@pytest.mark.parametrize("line,expected", LINES, ids=[line or "<empty>" for line, _ in LINES])
def test_parse_line(line, expected):
    assert ingredient_parser.parse_line(line) == expected


def test_singular_forms():
    pairs = {"tomatoes": "tomato", "leaves": "leaf", "berries": "berry", "peaches": "peach",
             "olives": "olive", "molasses": "molasses", "asparagus": "asparagus", "eggs": "egg"}
    for plural, single in pairs.items():
        assert ingredient_parser.singular(plural) == single


def test_recipe_names_are_sorted_and_unique():
    lines = ["1 onion, chopped", "2 onions", "Salt", "1 tsp salt"]
    assert ingredient_parser.parse_recipe(lines) == ["onion", "salt"]


def test_every_synthetic_recipe_line_parses_to_its_ingredients():
    # The generator knows what each recipe contains; the parser must recover it from the text.
    for index in range(1, 400):
        _, names, lines = food.yummly_recipe(index, seed=3)
        assert ingredient_parser.parse_recipe(lines) == sorted(set(names)), lines


def test_vocabulary_keeps_names_of_enough_training_recipes():
    train = [["salt", "egg"], ["salt", "egg", "egg"], ["salt", "saffron"], ["egg"]]
    # salt: 3 recipes, egg: 3 (the duplicate counts once), saffron: 1.
    assert ingredient_vocabulary.build_vocabulary(train, min_count=2) == ["egg", "salt"]
    assert ingredient_vocabulary.build_vocabulary(train, min_count=4) == []
    assert ingredient_vocabulary.min_count_for(23493) == 47  # ceil(0.002 * 23493)
    assert ingredient_vocabulary.min_count_for(10) == 2
