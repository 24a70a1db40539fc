"""TFDS builder for Yummly-28K (Min et al., 2016), read from the files as they ship.

Layout (the unpacked `Yummly28K.rar`):

    <manual_dir>/[Yummly28K/]images27638/img00001.jpg ... img27638.jpg
    <manual_dir>/[Yummly28K/]metadata27638/meta00001.json ... meta27638.json

Each JSON is a Yummly API recipe (`name`, `ingredientLines`, `attributes`:
{`course`, `cuisine`}, `flavors`, `nutritionEstimates`, `totalTimeInSeconds`,
...). Only `ingredientLines` defines the labels; `name` and the first cuisine
are kept as context.

- Labels: `ingredient_parser.parse_recipe` on the raw lines, then the names of
  the vocabulary (`ingredient_vocabulary`), which is counted on the training
  split only and stored as the `ingredients` ClassLabel names.
- Split: deterministic 85/15. Recipes are ordered by a SHA-256 hash of their
  number and the first `floor(0.15 * N)` form the test split (23,493 / 4,145
  on the full 27,638).
- A missing, corrupt or unreadable image or JSON is skipped and counted (log,
  `info.metadata['skipped_examples']`, description); it never stops the build.
"""

import functools
import hashlib
import json
import math
import re

import tensorflow_datasets as tfds

from cmva_keras.datasets import image_io, ingredient_parser, ingredient_vocabulary, manual_dir
from cmva_keras.datasets.builder_base import ManualBuilder

_DESCRIPTION = """Yummly-28K: 27,638 recipes, one photo each, with the raw ingredient lines
of the Yummly API. The labels are ingredient sets extracted from `ingredientLines`
(quantities, units and preparation words removed, forms normalised, similar
ingredients grouped, rare ones dropped); the vocabulary is counted on the training
split and stored with the dataset. Deterministic 85/15 train/test split."""

_CITATION = """@inproceedings{min2016being,
  title={Being a Supertaster: Multimodal Food Recognition via Multimodal Deep Boltzmann Machines},
  author={Min, Weiqing and Jiang, Shuqiang and Sang, Jitao and Wang, Huayang and Liu, Xinda and Herranz, Luis},
  booktitle={ACM Multimedia}, year={2016}}"""

TEST_FRACTION = 0.15
_SPLIT_SALT = "cmva-keras/yummly28k/split/v1"


def split_of(recipe_ids, test_fraction=TEST_FRACTION):
    """`{recipe_id: 'train' | 'test'}`: hash-ordered, the first floor(fraction * N) go to test."""
    ordered = sorted(recipe_ids, key=lambda r: (hashlib.sha256(f"{_SPLIT_SALT}:{r}".encode()).hexdigest(), r))
    num_test = math.floor(test_fraction * len(ordered))
    return {r: ("test" if i < num_test else "train") for i, r in enumerate(ordered)}


class Yummly28k(ManualBuilder):
    """Yummly-28K food images with multi-label ingredient targets."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: parsed ingredient labels, 85/15 split."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """Yummly-28K (TFDS name `yummly28k`) cannot be downloaded automatically.
Get `Yummly28K.rar` from Luis Herranz's dataset page
(http://lherranz.org/datasets/ , http://lherranz.org/local/datasets/yummly28k/Yummly28K.rar),
unpack it and pass the folder as manual_dir. Expected layout:

    <manual_dir>/[Yummly28K/]images27638/imgNNNNN.jpg
    <manual_dir>/[Yummly28K/]metadata27638/metaNNNNN.json

`cmva_keras.synthetic.food.generate_yummly(out_dir)` writes a synthetic set in
this layout for offline runs."""

    MIN_FRACTION = ingredient_vocabulary.DEFAULT_MIN_FRACTION

    def _info(self):
        report = image_io.read_skip_report(self.data_path)
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION + image_io.describe_skips(report),
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
                "ingredients": tfds.features.Sequence(tfds.features.ClassLabel()),
                "ingredient_names": tfds.features.Sequence(tfds.features.Text()),
                "ingredient_lines": tfds.features.Sequence(tfds.features.Text()),
                "recipe_id": tfds.features.Text(),
                "name": tfds.features.Text(),
                "cuisine": tfds.features.Text(),
            }),
            supervised_keys=("image", "ingredients"),
            homepage="http://lherranz.org/datasets/",
            citation=_CITATION,
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        root = manual_dir.find_root(
            manual_dir.resolve(dl_manager), ["images27638", "metadata27638"], dataset=self.name,
            instructions=self.MANUAL_DOWNLOAD_INSTRUCTIONS, subdirs=("Yummly28K",),
        )
        self._skips = image_io.SkipLog(self.name)
        self.info.metadata["source"] = manual_dir.source_of(root)
        recipes = {}
        for path in sorted((root / "metadata27638").glob("meta*.json")):
            match = re.fullmatch(r"meta(\d+)\.json", path.name)
            if match:
                recipes[match.group(1)] = path
        if not recipes:
            raise manual_dir.ManualDataError(
                f"{self.name}: {root / 'metadata27638'} holds no metaNNNNN.json files.\n"
                + self.MANUAL_DOWNLOAD_INSTRUCTIONS
            )
        splits = split_of(recipes)
        records = {"train": [], "test": []}
        for recipe_id, path in recipes.items():
            split = splits[recipe_id]
            try:
                meta = json.loads(_text(path.read_bytes()))
                if not isinstance(meta, dict):
                    raise TypeError("the file is not a JSON object")
                lines = meta["ingredientLines"]
                if not isinstance(lines, list):
                    raise TypeError("ingredientLines is not a list")
            except (OSError, ValueError, KeyError, TypeError) as err:
                self._skips.skip(split, "bad metadata", f"{path}: {err!r}")
                continue
            image_path = root / "images27638" / f"img{recipe_id}.jpg"
            records[split].append({
                "recipe_id": recipe_id,
                "image_path": image_path,
                "lines": [str(line) for line in lines],
                "names": ingredient_parser.parse_recipe(lines),
                "name": str(meta.get("name") or ""),
                "cuisine": _first((meta.get("attributes") or {}).get("cuisine")),
            })
        train_with_images = [r["names"] for r in records["train"] if r["image_path"].exists()]
        min_count = ingredient_vocabulary.min_count_for(len(train_with_images), self.MIN_FRACTION)
        vocabulary = ingredient_vocabulary.build_vocabulary(train_with_images, min_count)
        self.info.features["ingredients"].feature.names = vocabulary
        self.info.metadata["vocabulary_min_count"] = min_count
        return {split: self._generate_examples(split, items) for split, items in records.items()}

    def _generate_examples(self, split, records):
        vocabulary = frozenset(self.info.features["ingredients"].feature.names)
        return self._examples(split, records, functools.partial(_example, vocabulary=vocabulary))


def _example(record, skip, *, vocabulary):
    """The recipe's example, or a skip when its image is missing or corrupt (see `ManualBuilder._examples`)."""
    try:
        data = record["image_path"].read_bytes()
        image = image_io.checked_image(data, str(record["image_path"]))
    except (OSError, image_io.BadImageError) as err:
        skip("bad image", repr(err))
        return
    yield record["recipe_id"], {
        "image": image,
        "ingredients": [n for n in record["names"] if n in vocabulary],
        "ingredient_names": record["names"],
        "ingredient_lines": record["lines"],
        "recipe_id": record["recipe_id"],
        "name": record["name"],
        "cuisine": record["cuisine"],
    }


def _text(data):
    """JSON text: UTF-8 (with or without a BOM), else Latin-1, which never fails."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _first(values):
    if isinstance(values, list) and values:
        return str(values[0])
    return ""
