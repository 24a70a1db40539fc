"""Recipe1M's ingredient vocabulary, as the inverse-cooking project builds it.

This replicates `build_vocab.py` of facebookresearch/inversecooking (Salvador
et al., CVPR 2019), ingredient part only:

1. Each detected ingredient (`det_ingrs.json`, entries whose `valid` flag is
   true) is lower-cased, its digits removed, '&' and "'n" replaced by "and",
   the characters `% , . # [ ] ! ?` removed, stripped, and spaces turned into
   '_' (`clean_ingredient`).
2. A recipe takes part only if it has 2 <= ingredients < 20 and
   2 <= instructions < 20 (instructions lower-cased, '&'/"'n" -> "and",
   '#[]' removed, those starting with a digit dropped), and at least 20
   characters of instructions.
3. Ingredient counts come from the training partition only; the project's
   list of base words is added with count 1 to help clustering.
4. Clusters: each name joins the first of (last word, first word, last two
   words, first two words) that is itself a counted name (reduced to its first
   or second word when those are names too); plurals ('es', 's') are merged
   into their singular cluster.
5. Clusters counted at least 10 times are kept, in first-seen order.
6. A recipe's labels are the distinct clusters of its ingredients; recipes
   with < 2 or >= 20 labels are dropped.

The order-dependent details (dict insertion order, which cluster a plural
joins) follow the original code, so the same files give the same classes.
Inverse cooking's vocabulary also holds `<end>` and `<pad>`; they are not
classes here (its 1,488 entries are 1,486 ingredient clusters plus those two).
"""

import collections

MIN_INGREDIENTS = 2
MAX_INGREDIENTS = 20
MIN_INSTRUCTIONS = 2
MAX_INSTRUCTIONS = 20
MIN_INSTRUCTION_CHARS = 20
MIN_CLUSTER_COUNT = 10

_REPLACE_INGREDIENT = {"and": ["&", "'n"], "": ["%", ",", ".", "#", "[", "]", "!", "?"]}
_REPLACE_INSTRUCTION = {"and": ["&", "'n"], "": ["#", "[", "]"]}

# inverse cooking's manually added base words (duplicates as in the original).
BASE_WORDS = [
    "peppers", "tomato", "spinach_leaves", "turkey_breast", "lettuce_leaf", "chicken_thighs",
    "milk_powder", "bread_crumbs", "onion_flakes", "red_pepper", "pepper_flakes",
    "juice_concentrate", "cracker_crumbs", "hot_chili", "seasoning_mix", "dill_weed",
    "pepper_sauce", "sprouts", "cooking_spray", "cheese_blend", "basil_leaves",
    "pineapple_chunks", "marshmallow", "chile_powder", "cheese_blend", "corn_kernels",
    "tomato_sauce", "chickens", "cracker_crust", "lemonade_concentrate", "red_chili",
    "mushroom_caps", "mushroom_cap", "breaded_chicken", "frozen_pineapple", "pineapple_chunks",
    "seasoning_mix", "seaweed", "onion_flakes", "bouillon_granules", "lettuce_leaf",
    "stuffing_mix", "parsley_flakes", "chicken_breast", "basil_leaves", "baguettes", "green_tea",
    "peanut_butter", "green_onion", "fresh_cilantro", "breaded_chicken", "hot_pepper",
    "dried_lavender", "white_chocolate", "dill_weed", "cake_mix", "cheese_spread",
    "turkey_breast", "chucken_thighs", "basil_leaves", "mandarin_orange", "laurel",
    "cabbage_head", "pistachio", "cheese_dip", "thyme_leave", "boneless_pork", "red_pepper",
    "onion_dip", "skinless_chicken", "dark_chocolate", "canned_corn", "muffin", "cracker_crust",
    "bread_crumbs", "frozen_broccoli", "philadelphia", "cracker_crust", "chicken_breast",
]


def clean_ingredient(text):
    """inverse cooking's `get_ingredient`: "Extra-Virgin Olive Oil" -> "extra-virgin_olive_oil"."""
    text = "".join(c for c in text.lower() if not c.isdigit())
    for replacement, chars in _REPLACE_INGREDIENT.items():
        for char in chars:
            text = text.replace(char, replacement)
    return text.strip().replace(" ", "_")


def clean_instruction(text):
    """inverse cooking's `get_instruction`; '' for instructions that start with a digit."""
    text = text.lower()
    for replacement, chars in _REPLACE_INSTRUCTION.items():
        for char in chars:
            text = text.replace(char, replacement)
        text = text.strip()
    if text and text[0].isdigit():
        return ""
    return text


def recipe_ingredients(det_entry):
    """Cleaned names of a `det_ingrs.json` entry's valid ingredients (duplicates kept)."""
    names = []
    for ingredient, valid in zip(det_entry.get("ingredients", []), det_entry.get("valid", [])):
        if ingredient and valid:
            names.append(clean_ingredient(ingredient.get("text", "")))
    return names


def instruction_stats(layer1_entry):
    """(number of non-empty cleaned instructions, their total length in characters)."""
    count, chars = 0, 0
    for instruction in layer1_entry.get("instructions", []):
        text = clean_instruction(instruction.get("text", ""))
        if text:
            count += 1
            chars += len(text)
    return count, chars


def passes_filter(num_ingredients, num_instructions, instruction_chars):
    """inverse cooking's recipe filter (see module docstring, steps 2 and 6)."""
    return (
        MIN_INGREDIENTS <= num_ingredients < MAX_INGREDIENTS
        and MIN_INSTRUCTIONS <= num_instructions < MAX_INSTRUCTIONS
        and instruction_chars >= MIN_INSTRUCTION_CHARS
    )


def _cluster(counter):
    """inverse cooking's `cluster_ingredients`."""
    counts, members = {}, {}
    for name, count in counter.items():
        words = name.split("_")
        candidates = [words[-1], words[0]]
        if len(words) > 1:
            candidates = [words[-1], words[0], words[-2] + "_" + words[-1], words[0] + "_" + words[1]]
        for word in candidates:
            if word in counter:
                parts = word.split("_")
                if parts[0] in counter:
                    word = parts[0]
                elif parts[1] in counter:
                    word = parts[1]
                if word in counts:
                    counts[word] += count
                    members[word].append(name)
                else:
                    counts[word] = count
                    members[word] = [name]
                break
        else:
            counts[name] = count
            members[name] = [name]
    return counts, members


def _merge_plurals(counts, members):
    """inverse cooking's `remove_plurals` (mutates and returns its arguments)."""
    removed = []
    for name, count in counts.items():
        if len(name) == 0:
            removed.append(name)
            continue
        merged = False
        if name[-2:] == "es" and name[:-2] in counts:
            counts[name[:-2]] += count
            members[name[:-2]].extend(members[name])
            removed.append(name)
            merged = True
        if name[-1] == "s" and not merged and name[:-1] in counts:
            counts[name[:-1]] += count
            members[name[:-1]].extend(members[name])
            removed.append(name)
    for name in removed:
        del counts[name]
        del members[name]
    return counts, members


class Recipe1MVocabulary:
    """Ingredient clusters and the raw-name -> class index map.

    Attributes:
        names: class names (the cluster keys, e.g. "tomato"), index = class id.
        word_to_class: cleaned ingredient name -> class id.
    """

    def __init__(self, names, word_to_class):
        self.names = list(names)
        self.word_to_class = dict(word_to_class)

    def labels(self, cleaned_names):
        """Distinct class ids of a recipe's cleaned ingredient names, first-seen order."""
        labels = []
        for name in cleaned_names:
            index = self.word_to_class.get(name)
            if index is not None and index not in labels:
                labels.append(index)
        return labels


def build_vocabulary(recipes, min_count=MIN_CLUSTER_COUNT):
    """Builds the vocabulary from `(partition, cleaned_names, n_instr, instr_chars)` tuples.

    Args:
        recipes: iterable over every layer1 recipe, in file order, of
            `(partition, ingredient names from recipe_ingredients, number of
            instructions, instruction characters)`.
        min_count: keep clusters counted at least this often (10 in inverse cooking).

    Returns:
        `Recipe1MVocabulary`.
    """
    counter = collections.Counter()
    for partition, names, num_instructions, instruction_chars in recipes:
        if partition != "train":
            continue
        if not passes_filter(len(names), num_instructions, instruction_chars):
            continue
        counter.update(names)
    for word in BASE_WORDS:
        if word not in counter:
            counter[word] = 1
    counts, members = _merge_plurals(*_cluster(counter))
    names, word_to_class = [], {}
    for cluster, count in counts.items():
        if count < min_count:
            continue
        index = len(names)
        added = False
        for word in members[cluster]:
            if word not in word_to_class:
                word_to_class[word] = index
                added = True
        if added:  # a cluster whose words all belong to earlier clusters gets no class
            names.append(cluster)
    return Recipe1MVocabulary(names, word_to_class)
