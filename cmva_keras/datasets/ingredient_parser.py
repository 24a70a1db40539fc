"""Extracting ingredient names from Yummly-28K's raw `ingredientLines`.

The rules, in order, for one line such as
`"2 (14.5 oz.) cans diced tomatoes, drained"`:

1. Normalise: lower-case; accents stripped (jalapeño -> jalapeno); unicode
   fractions and dashes made ASCII; text in parentheses or brackets removed
   (package sizes, notes); hyphens and apostrophes become spaces.
2. Header lines (ending in ':' or starting "for the") name no ingredient.
3. Split into clauses at ',', ';', ':' and ' - '. Within a clause, ' or '
   separates alternatives (the first that names something is kept) and
   ' and ' / '&' / '+' separate several ingredients ("salt and pepper").
4. Quantities are dropped: numbers, fractions, ranges, "2%".
5. Every word is folded to its singular (tomatoes -> tomato, leaves -> leaf,
   berries -> berry; a short exception list keeps molasses, asparagus, ...).
6. Grouping: the longest phrase of consecutive words that is an alias in
   `ingredient_table.INGREDIENT_GROUPS` names the canonical ingredient; on a
   tie the rightmost phrase wins (English puts the head noun last: "2 cloves
   minced garlic" is garlic, not cloves). This both normalises forms and groups
   similar ingredients (spaghetti, macaroni, penne -> pasta).
7. No alias in a clause: units, preparation words, descriptors and stop words
   are removed and the last (up to) two remaining words name the ingredient
   ("1 tsp xanthan gum" -> "xanthan gum").
8. The first clause that names something wins; later clauses are notes
   ("1 onion, finely chopped").

Rare names are dropped later by `ingredient_vocabulary.build_vocabulary`.
"""

import functools
import re
import unicodedata

from cmva_keras.datasets import ingredient_table

_FRACTIONS = {
    "½": " 1/2", "⅓": " 1/3", "⅔": " 2/3", "¼": " 1/4", "¾": " 3/4", "⅕": " 1/5",
    "⅛": " 1/8", "⅜": " 3/8", "⅝": " 5/8", "⅞": " 7/8", "⅙": " 1/6", "⅚": " 5/6",
}
_NO_SINGULAR = {
    "molasses", "asparagus", "couscous", "hummus", "swiss", "bass", "grass", "lemongrass",
    "watercress", "cress", "citrus", "octopus", "schnapps", "brussels", "is", "gas", "plus",
    "less", "grits", "series", "species", "hummous", "haricots",
}
_MAX_ALIAS_WORDS = 5
_QUANTITY = re.compile(r"^(\d+([./]\d+)?%?|\d+(\.\d+)?-\d+(\.\d+)?|[\d/.%x-]+)$")


def singular(word):
    """English plural folding good enough for ingredient words (see module doc)."""
    if len(word) <= 3 or word in _NO_SINGULAR:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("eaves", "alves", "oaves")):
        return word[:-3] + "f"
    if word.endswith("oes"):
        return word[:-2]
    if word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def normalise(text):
    """Lower-case ASCII text with parentheses removed and punctuation spaced out."""
    for char, repl in _FRACTIONS.items():
        text = text.replace(char, repl)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("\u2013", "-").replace("\u2014", " - ").replace("\u2019", "'")
    text = text.replace("half and half", "halfnhalf").replace("half & half", "halfnhalf")
    text = text.replace("half-and-half", "halfnhalf")
    previous = None
    while previous != text:  # nested parentheses
        previous = text
        text = re.sub(r"\([^()]*\)|\[[^\[\]]*\]", " ", text)
    text = re.sub(r"[()\[\]]", " ", text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])|'", " ", text)  # all-purpose -> all purpose
    return re.sub(r"\s+", " ", text).strip()


def _words(clause):
    """Singular words of a clause, quantities and stray punctuation removed."""
    words = []
    for token in re.split(r"[\s\"*!?]+", clause):
        token = token.strip(".-/")
        if not token or _QUANTITY.match(token) or not re.search(r"[a-z]", token):
            continue
        token = re.sub(r"^\d+(?=[a-z])", "", token)  # "14oz" -> "oz"
        token = token.rstrip(".")
        if token:
            words.append(singular(token))
    return words


@functools.lru_cache(maxsize=None)
def alias_table():
    """`{alias words tuple: canonical name}` built from `INGREDIENT_GROUPS`."""
    table = {}
    for line in ingredient_table.INGREDIENT_GROUPS.strip().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        canonical, aliases = (part.strip() for part in line.split("=", 1))
        for alias in [canonical] + [a.strip() for a in aliases.split(",")]:
            key = tuple(_words(normalise(alias)))
            if key:
                table.setdefault(key, canonical)
    return table


@functools.lru_cache(maxsize=None)
def _noise_words():
    words = set()
    for group in (ingredient_table.UNITS, ingredient_table.PREPARATION,
                  ingredient_table.DESCRIPTORS, ingredient_table.STOPWORDS):
        for entry in group:
            words.update(singular(w) for w in normalise(entry).split())
    return frozenset(words)


def _match(words):
    """Canonical name of the longest (then rightmost) alias phrase in `words`, or None."""
    table = alias_table()
    best = None  # (length, end position, canonical)
    for start in range(len(words)):
        for length in range(1, min(_MAX_ALIAS_WORDS, len(words) - start) + 1):
            canonical = table.get(tuple(words[start:start + length]))
            if canonical is not None:
                candidate = (length, start + length, canonical)
                if best is None or candidate[:2] > best[:2]:
                    best = candidate
    return None if best is None else best[2]


def _fallback(words):
    noise = _noise_words()
    kept = [w for w in words if w not in noise and len(w) > 1]
    return " ".join(kept[-2:]) if kept else None


def _name(part):
    words = _words(part)
    if not words:
        return None
    return _match(words) or _fallback(words)


def _clause_names(clause):
    """Names in one clause: first naming alternative, each conjunct separately."""
    for alternative in re.split(r"\bor\b|/(?=\s*[a-z])", clause):
        names = []
        for part in re.split(r"\band\b|&|\+|\bwith\b", alternative):
            name = _name(part)
            if name and name not in names:
                names.append(name)
        if names:
            return names
    return []


def parse_line(line):
    """Ingredient names (usually one) mentioned by one raw recipe line.

    Args:
        line: a raw `ingredientLines` entry, e.g. "1 1/2 cups all-purpose flour".

    Returns:
        list of names (canonical group names or cleaned fallback names); empty
        for header lines and lines that name nothing.
    """
    if not isinstance(line, str):
        return []
    text = normalise(line)
    if not text or text.endswith(":"):
        return []  # a section header such as "Sauce:"
    if text.startswith("for ") and ":" not in text and text.count(" ") < 4:
        return []  # "For the dressing"
    for clause in re.split(r"[,;:]| - ", text):
        names = _clause_names(clause)
        if names:
            return names
    return []


def parse_recipe(lines):
    """Sorted, de-duplicated ingredient names of a recipe's `ingredientLines`."""
    names = set()
    for line in lines or ():
        names.update(parse_line(line))
    return sorted(names)
