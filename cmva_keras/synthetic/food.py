"""Synthetic food datasets written in Yummly-28K's and Recipe1M's native layouts.

`generate_yummly` writes what `Yummly28K.rar` unpacks to: `images27638/
imgNNNNN.jpg` (360x240 JPEG) and `metadata27638/metaNNNNN.json` (Yummly API
recipe JSON with raw `ingredientLines`), numbered from 00001. The `yummly28k`
builder reads it exactly like the real folder.

`generate_recipe1m` writes a tiny Recipe1M: `layer1.json`, `layer2.json`,
`det_ingrs.json` and `images/{partition}/{c0}/{c1}/{c2}/{c3}/{image_id}`.

Both are deterministic in `seed`: recipe `i` draws from
`numpy.random.default_rng([seed, i])`, so a recipe does not depend on how many
others are generated or in which order.
"""

import concurrent.futures
import hashlib
import json
import os

import numpy as np

from cmva_keras import progress
from cmva_keras.synthetic import food_catalogue as cat
from cmva_keras.synthetic import food_render, marker

YUMMLY_IMAGE_SIZE = (360, 240)  # (width, height), the size of Yummly-28K's photos


def sample_recipe(rng):
    """Draws a cuisine and its ingredient names (catalogue order of drawing).

    Returns:
        (cuisine, list of ingredient names).
    """
    cuisine = list(cat.CUISINES)[rng.integers(len(cat.CUISINES))]
    weights = dict(cat.CUISINES[cuisine][2])
    for ingredient in cat.INGREDIENTS:
        if ingredient.look is not None and ingredient.name not in weights:
            weights[ingredient.name] = cat.BACKGROUND_WEIGHT
    names = sorted(weights)
    p = np.array([weights[n] for n in names], np.float64)
    count = min(3 + int(rng.poisson(2.0)), 8)
    chosen = list(rng.choice(names, size=count, replace=False, p=p / p.sum()))
    for rare in cat.RARE:
        if rng.uniform() < cat.RARE_PROBABILITY:
            chosen.append(rare)
    return cuisine, [str(n) for n in chosen]


def ingredient_line(ingredient, rng):
    """A realistic recipe line for `ingredient` ("2 cups chopped fresh basil, divided")."""
    phrase = ingredient.phrases[rng.integers(len(ingredient.phrases))]
    unit = ingredient.units[rng.integers(len(ingredient.units))]
    if unit and unit.split()[0] in phrase:
        unit = ""
    quantity = cat.QUANTITIES[rng.integers(len(cat.QUANTITIES))]
    prefix = cat.PREFIXES[rng.integers(len(cat.PREFIXES))] if "," not in phrase else ""
    if prefix.strip() and prefix.strip() in phrase.lower():
        prefix = ""
    suffix = cat.SUFFIXES[rng.integers(len(cat.SUFFIXES))] if "," not in phrase else ""
    if ingredient.name in ("salt", "black pepper"):
        quantity, suffix = ("", ", to taste") if rng.uniform() < 0.5 else (quantity, "")
    words = [quantity, unit, prefix + phrase + suffix]
    line = " ".join(w for w in words if w)
    return line[0].upper() + line[1:] if rng.uniform() < 0.3 else line


def recipe_lines(names, rng):
    """`ingredientLines` for the ingredient `names` (salt and pepper sometimes share a line)."""
    lines = []
    names = list(names)
    if "salt" in names and "black pepper" in names and rng.uniform() < 0.5:
        names.remove("salt")
        names.remove("black pepper")
        lines_end = ["Salt and freshly ground black pepper, to taste"]
    else:
        lines_end = []
    for name in names:
        lines.append(ingredient_line(cat.BY_NAME[name], rng))
    if len(lines) > 3 and rng.uniform() < 0.15:
        lines.insert(int(rng.integers(1, len(lines))), cat.HEADERS[rng.integers(len(cat.HEADERS))])
    return lines + lines_end


def _looks(names):
    return [cat.BY_NAME[n].look for n in names if cat.BY_NAME[n].look is not None]


def _yummly_json(index, cuisine, names, lines, rng):
    course, _, _ = cat.CUISINES[cuisine]
    main = next((n for n in names if cat.BY_NAME[n].look is not None), names[0])
    dish = cat.DISHES[rng.integers(len(cat.DISHES))]
    title = f"{main.title()} {dish}"
    recipe_id = f"Synthetic-{title.replace(' ', '-')}-{index:05d}"
    minutes = int(rng.integers(2, 13)) * 5
    url = f"https://synthetic.invalid/recipe/{recipe_id}"
    return {
        "id": recipe_id,
        "name": title,
        "ingredientLines": lines,
        "attributes": {"course": [course], "cuisine": [cuisine]},
        "flavors": {k: round(float(rng.uniform()), 4) for k in ("salty", "sour", "sweet", "bitter", "meaty", "piquant")},
        "nutritionEstimates": [
            {"attribute": "ENERC_KCAL", "description": "Energy", "value": round(float(rng.uniform(150, 900)), 1),
             "unit": {"name": "calorie", "abbreviation": "kcal", "plural": "calories", "pluralAbbreviation": "kcal"}},
        ],
        "totalTimeInSeconds": minutes * 60,
        "totalTime": f"{minutes} min",
        "numberOfServings": int(rng.integers(2, 9)),
        "yield": None,
        "rating": int(rng.integers(3, 6)),
        "images": [{"hostedLargeUrl": url + ".jpg", "hostedSmallUrl": url + "-s.jpg",
                    "imageUrlsBySize": {"90": url + "-90.jpg", "360": url + "-360.jpg"}}],
        "source": {"sourceDisplayName": "cmva-keras synthetic", "sourceSiteUrl": "https://synthetic.invalid",
                   "sourceRecipeUrl": url},
        "attribution": {"html": "synthetic recipe", "url": url, "text": "cmva-keras synthetic data", "logo": ""},
    }


def _write_yummly_recipe(root, index, seed):
    rng = np.random.default_rng([seed, index])
    cuisine, names = sample_recipe(rng)
    lines = recipe_lines(names, rng)
    meta = _yummly_json(index, cuisine, names, lines, rng)
    image = food_render.render_dish(_looks(names), cat.CUISINES[cuisine][1], rng, YUMMLY_IMAGE_SIZE)
    image.save(os.path.join(root, "images27638", f"img{index:05d}.jpg"), quality=int(rng.integers(85, 95)))
    with open(os.path.join(root, "metadata27638", f"meta{index:05d}.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)
    return names


def generate_yummly(out_dir, num_recipes=3000, seed=0, workers=None):
    """Writes a synthetic Yummly-28K in its native layout and returns `out_dir`.

    Args:
        out_dir: folder to create (files inside are overwritten).
        num_recipes: number of recipes, numbered 00001..num_recipes.
        seed: dataset seed.
        workers: threads used for rendering (default 1: PIL drawing holds the GIL,
            so threads only help where encoding dominates).

    Returns:
        `out_dir` as a string.
    """
    root = os.fspath(out_dir)
    os.makedirs(os.path.join(root, "images27638"), exist_ok=True)
    os.makedirs(os.path.join(root, "metadata27638"), exist_ok=True)
    written = _imap(lambda i: _write_yummly_recipe(root, i, seed), range(1, num_recipes + 1), workers)
    for _ in progress.bar(written, total=num_recipes, description="generating yummly28k", unit="recipes"):
        pass
    marker.write(root, "yummly28k", num_recipes=int(num_recipes), seed=int(seed))
    return root


def yummly_recipe(index, seed=0):
    """(cuisine, ingredient names, ingredientLines) of recipe `index`, without writing files."""
    rng = np.random.default_rng([seed, index])
    cuisine, names = sample_recipe(rng)
    return cuisine, names, recipe_lines(names, rng)


def _imap(fn, items, workers):
    """`fn` over `items` on `workers` threads (default 1), yielding the results in order as they come."""
    workers = workers or 1
    if workers <= 1:
        yield from map(fn, items)
        return
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        yield from pool.map(fn, items)


# --------------------------------------------------------------------------- Recipe1M

# Detected-ingredient spellings per ingredient: singular/plural and first/last-word
# variants exercise inverse cooking's clustering (see recipe1m_vocabulary).
RECIPE1M_INGREDIENTS = {
    "tomato": ("tomatoes", "tomato"),
    "garlic": ("garlic", "garlic cloves"),
    "onion": ("onion", "onions"),
    "basil": ("fresh basil", "basil"),
    "pasta": ("pasta", "penne pasta"),
    "mushroom": ("mushrooms", "mushroom"),
    "bell pepper": ("red bell pepper", "bell pepper"),
    "chicken": ("chicken breasts", "chicken"),
    "rice": ("rice", "white rice"),
    "carrot": ("carrots", "carrot"),
    "egg": ("eggs", "egg"),
    "olive oil": ("olive oil", "extra virgin olive oil"),
}
_INSTRUCTIONS = (
    "Heat the oil in a large skillet over medium heat.",
    "Add the vegetables and cook until they are soft and fragrant.",
    "Stir in the remaining ingredients and simmer for ten minutes.",
    "Season to taste and serve warm with fresh herbs on top.",
    "Bring a large pot of salted water to a boil and cook until tender.",
    "Transfer everything to a serving dish and let it rest briefly.",
)


def hash_int(text):
    """A stable small integer for a string (Python's `hash` changes between runs)."""
    return int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)


def _hex_id(*parts):
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:10]


def generate_recipe1m(out_dir, num_train=30, num_val=8, num_test=8, seed=0, image_size=(320, 256)):
    """Writes a tiny Recipe1M in its native layout and returns `out_dir`.

    Valid recipes use four of the 12 ingredients of `RECIPE1M_INGREDIENTS`,
    in round robin, so with `num_train` a multiple of 3 (>= 30) every
    ingredient is counted at least 10 times in training and becomes a class;
    each has 1-3 images. Each partition also gets three recipes that the
    inverse-cooking filters must drop: one with a single valid ingredient, one
    with a single instruction, and one with no entry in `layer2.json`
    (no image). So the prepared splits have exactly `num_train`, `num_val`
    and `num_test` examples.
    """
    root = os.fspath(out_dir)
    keys = list(RECIPE1M_INGREDIENTS)
    layer1, layer2, dets = [], [], []
    for partition, count in (("train", num_train), ("val", num_val), ("test", num_test)):
        for i in range(count + 3):
            rng = np.random.default_rng([seed, hash_int(partition), i])
            recipe_id = _hex_id("recipe", seed, partition, i)
            names = [keys[(4 * i + j) % len(keys)] for j in range(4)]
            texts = [RECIPE1M_INGREDIENTS[n][rng.integers(2)] for n in names]
            valid = [True] * len(texts)
            instructions = [_INSTRUCTIONS[(i + j) % len(_INSTRUCTIONS)] for j in range(3)]
            kind = i - count  # 0, 1, 2: the three recipes the filters drop
            if kind == 0:
                valid = [True] + [False] * (len(texts) - 1)
            elif kind == 1:
                instructions = instructions[:1]
            texts.append("salt and pepper")  # a detection flagged invalid
            valid.append(False)
            layer1.append({
                "id": recipe_id, "partition": partition,
                "title": " ".join(n.title() for n in names[:2]) + " Skillet",
                "url": f"https://synthetic.invalid/recipe1m/{recipe_id}",
                "ingredients": [{"text": f"{1 + j} cups {t}"} for j, t in enumerate(texts)],
                "instructions": [{"text": t} for t in instructions],
            })
            dets.append({"id": recipe_id, "ingredients": [{"text": t} for t in texts], "valid": valid})
            if kind == 2:
                continue  # no images for this recipe
            images = []
            for k in range(1 + i % 3):
                image_id = _hex_id("image", seed, recipe_id, k) + ".jpg"
                folder = os.path.join(root, "images", partition, *image_id[:4])
                os.makedirs(folder, exist_ok=True)
                looks = [cat.BY_NAME[n].look for n in names if cat.BY_NAME[n].look is not None]
                table = list(cat.CUISINES.values())[i % len(cat.CUISINES)][1]
                food_render.render_dish(looks, table, rng, image_size).save(os.path.join(folder, image_id), quality=90)
                images.append({"id": image_id, "url": f"https://synthetic.invalid/img/{image_id}"})
            layer2.append({"id": recipe_id, "images": images})
    for name, data in (("layer1.json", layer1), ("layer2.json", layer2), ("det_ingrs.json", dets)):
        with open(os.path.join(root, name), "w", encoding="utf-8") as f:
            json.dump(data, f)
    marker.write(root, "recipe1m", num_train=int(num_train), num_val=int(num_val), num_test=int(num_test),
                 seed=int(seed), image_size=list(image_size))
    return root

