"""TFDS builder for Recipe1M (Salvador et al., 2017), read from the files as they ship.

Layout (the official archives, as the inverse-cooking project expects them):

    <manual_dir>/layer1.json      [{id, partition, title, url, ingredients, instructions}]
    <manual_dir>/layer2.json      [{id, images: [{id, url}]}]
    <manual_dir>/det_ingrs.json   [{id, ingredients: [{text}], valid: [bool]}]
    <manual_dir>/images/{train,val,test}/c0/c1/c2/c3/<image id>
        (c0..c3 are the first four characters of the image id; a tree
        without the `images/` level is accepted too)

- Labels and filtering replicate inverse cooking's `build_vocab.py`
  (`recipe1m_vocabulary`): counts from `train` only, clusters by first/last
  word(s) and plurals, clusters with >= 10 counts kept, recipes with < 2 or
  >= 20 ingredient classes (or too few/many instructions) dropped.
- Splits follow the `partition` field: `train`, `validation` (`val`), `test`.
  Only recipes with at least one readable image are kept.
- Every image of a recipe is kept (`images`, resized to 256 px on the short
  side, as the method prescribes); the input pipeline picks one at random for
  training and the first for evaluation. A recipe's photos differ in size, so
  they are stored as JPEG bytes (a `Sequence` of `tfds.features.Image` would
  have to stack them when decoded): `tf.io.decode_jpeg` them, as the food
  pipeline does.
- Unreadable images are skipped and counted; a recipe loses only the bad
  images, and is skipped (and counted) only if none is left.
"""

import functools
import json

import numpy as np
import tensorflow_datasets as tfds

from cmva_keras.datasets import image_io, manual_dir, recipe1m_vocabulary
from cmva_keras.datasets.builder_base import ManualBuilder

_DESCRIPTION = """Recipe1M recipes with their photos; labels are the ingredient clusters of the
inverse-cooking project (Salvador et al., CVPR 2019), rebuilt from `det_ingrs.json`
with the same procedure. Images are resized to 256 px on the short side."""

_CITATION = """@inproceedings{salvador2017learning,
  title={Learning Cross-modal Embeddings for Cooking Recipes and Food Images},
  author={Salvador, Amaia and Hynes, Nicholas and Aytar, Yusuf and Marin, Javier and
          Ofli, Ferda and Weber, Ingmar and Torralba, Antonio},
  booktitle={CVPR}, year={2017}}"""

SHORT_SIDE = 256
_PARTITIONS = {"train": "train", "val": "validation", "test": "test"}


class Recipe1m(ManualBuilder):
    """Recipe1M food images with inverse-cooking ingredient labels."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: inverse-cooking vocabulary, all images per recipe."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """Recipe1M (TFDS name `recipe1m`) needs a registration and cannot be
downloaded automatically. Register at http://im2recipe.csail.mit.edu/dataset/download ,
download `layer1.json`, `layer2.json`, `det_ingrs.json` and the image archives
`recipe1M_images_{train,val,test}.tar`, and unpack them so that manual_dir holds:

    <manual_dir>/layer1.json
    <manual_dir>/layer2.json
    <manual_dir>/det_ingrs.json
    <manual_dir>/images/{train,val,test}/<c0>/<c1>/<c2>/<c3>/<image id>.jpg

`cmva_keras.synthetic.food.generate_recipe1m(out_dir)` writes a tiny synthetic
set in this layout."""

    def _info(self):
        report = image_io.read_skip_report(self.data_path)
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION + image_io.describe_skips(report),
            features=tfds.features.FeaturesDict({
                "images": tfds.features.Sequence(tfds.features.Tensor(shape=(), dtype=np.object_)),
                "image_ids": tfds.features.Sequence(tfds.features.Text()),
                "ingredients": tfds.features.Sequence(tfds.features.ClassLabel()),
                "ingredient_names": tfds.features.Sequence(tfds.features.Text()),
                "recipe_id": tfds.features.Text(),
                "title": tfds.features.Text(),
            }),
            homepage="http://im2recipe.csail.mit.edu/",
            citation=_CITATION,
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        root = manual_dir.find_root(
            manual_dir.resolve(dl_manager), ["layer1.json", "layer2.json", "det_ingrs.json"],
            dataset=self.name, instructions=self.MANUAL_DOWNLOAD_INSTRUCTIONS, subdirs=("recipe1M", "Recipe1M"),
        )
        image_root = root / "images" if (root / "images").exists() else root
        if not any((image_root / p).exists() for p in _PARTITIONS):
            raise manual_dir.ManualDataError(
                f"{self.name}: no image folders ({root}/images/train, ...) found.\n"
                + self.MANUAL_DOWNLOAD_INSTRUCTIONS
            )
        layer1 = _read_json(root / "layer1.json")
        dets = {entry["id"]: entry for entry in _read_json(root / "det_ingrs.json")}
        images = {entry["id"]: [im["id"] for im in entry.get("images", [])]
                  for entry in _read_json(root / "layer2.json")}

        recipes = []
        for entry in layer1:
            names = recipe1m_vocabulary.recipe_ingredients(dets.get(entry["id"], {}))
            recipes.append((entry, names, *recipe1m_vocabulary.instruction_stats(entry)))
        vocabulary = recipe1m_vocabulary.build_vocabulary(
            (entry["partition"], names, n, chars) for entry, names, n, chars in recipes)
        self.info.features["ingredients"].feature.names = vocabulary.names

        self._skips = image_io.SkipLog(self.name)
        self.info.metadata["source"] = manual_dir.source_of(root)
        records = {split: [] for split in _PARTITIONS.values()}
        filtered = {split: 0 for split in _PARTITIONS.values()}
        for entry, names, n_instructions, chars in recipes:
            split = _PARTITIONS.get(entry.get("partition"))
            if split is None:
                continue
            labels = vocabulary.labels(names)
            image_ids = images.get(entry["id"], [])
            if not image_ids or not recipe1m_vocabulary.passes_filter(len(labels), n_instructions, chars):
                filtered[split] += 1
                continue
            records[split].append({
                "recipe_id": entry["id"], "title": entry.get("title", ""), "labels": labels,
                "names": names, "image_ids": image_ids, "partition": entry["partition"],
            })
        self.info.metadata["filtered_recipes"] = filtered
        return {split: self._generate_examples(split, items, image_root) for split, items in records.items()}

    def _generate_examples(self, split, records, image_root):
        return self._examples(split, records, functools.partial(_example, image_root=image_root))


def _example(record, skip, *, image_root):
    """The recipe's example with its readable images; a skip per bad image, and for a recipe left without any."""
    images, image_ids = [], []
    for image_id in record["image_ids"]:
        path = image_root / record["partition"] / image_id[0] / image_id[1] / image_id[2] / image_id[3] / image_id
        try:
            images.append(image_io.jpeg_short_side(path.read_bytes(), SHORT_SIDE, str(path)))
        except (OSError, image_io.BadImageError) as err:
            skip("bad image", repr(err))
            continue
        image_ids.append(image_id)
    if not images:
        skip("recipe without a readable image", record["recipe_id"])
        return
    yield record["recipe_id"], {
        "images": images,
        "image_ids": image_ids,
        "ingredients": record["labels"],
        "ingredient_names": record["names"],
        "recipe_id": record["recipe_id"],
        "title": record["title"],
    }


def _read_json(path):
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except ValueError as err:
        raise manual_dir.ManualDataError(f"recipe1m: {path} is not valid JSON: {err}") from err
