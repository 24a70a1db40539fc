"""Saves ImageNet weights of a backbone as a preset directory that cmva_keras loads offline.

Run it on a machine with internet, then copy the directory to the offline one:

  python scripts/save_backbone_weights.py densenet121 --out backbones/densenet121_imagenet
  python scripts/save_backbone_weights.py resnet18 --out backbones/resnet18_imagenet

and train with `--set model.backbone_weights=backbones/resnet18_imagenet` (the
README, "Pretrained backbones", has the whole recipe).

It fetches keras-hub's preset (densenet121: "densenet_121_imagenet",
torchvision's DenseNet-121; resnet18: "resnet_18_imagenet", timm's
resnet18.a1_in1k; both from Kaggle) with keras-hub, which it needs in the
project's environment (`pip install --no-deps keras-hub==0.32.0 && pip install
tokenizers`; the version checked here). It writes the
backbone with `save_to_preset` (config.json, metadata.json, model.weights.h5)
and the preset's image converter (image_converter.json: the pixel
normalisation the weights expect). Then, unless --no_check, it loads the
directory with `cmva_keras.backbones.build_backbone` exactly as training will
and checks that the features equal keras-hub's on random images, at an input
size of the form 32k + 1 where keras-cv's "same" padding equals keras-hub's.
Offline, it stops with a message that says so; nothing else here downloads.
"""

import argparse
import os
import sys

INSTALL = (
    "This script needs keras-hub, which the project does not install: on the connected machine run "
    "`pip install --no-deps keras-hub==0.32.0 && pip install tokenizers` in the project's environment "
    "(--no-deps keeps pip from adding tensorflow-text, which would pull in a second TensorFlow)."
)


class SaveError(Exception):
    """A failure the user can act on: printed without a traceback, exit status 1."""


def save_backbone_weights(name, out, *, preset=None, overwrite=False, check=True, keras_hub=None):
    """Saves keras-hub's preset `preset` for backbone `name` into the directory `out`; returns `out`.

    Args:
        name: a keras-cv backbone name of `cmva_keras.backbones.BACKBONES`.
        out: the preset directory to write.
        preset: the keras-hub preset; default `SAVABLE_PRESETS[name]`.
        overwrite: write into a non-empty `out`.
        check: load `out` with `build_backbone` and compare its features with keras-hub's.
        keras_hub: the module to use (tests pass a stand-in); default `import keras_hub`.

    Raises:
        SaveError: what went wrong and what to do about it.
    """
    from cmva_keras.backbones import SAVABLE_PRESETS, architecture, read_preset

    try:
        class_name, _ = architecture(name)
    except ValueError as error:
        raise SaveError(str(error)) from None
    preset = preset or SAVABLE_PRESETS.get(name)
    if preset is None:
        raise SaveError(
            f"No ImageNet preset is known for {name!r} (only {sorted(SAVABLE_PRESETS)}): pass --preset NAME, "
            "a keras-hub preset of the same architecture."
        )
    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        raise SaveError(f"{out!r} exists and is not empty: choose another --out or pass --overwrite.")
    if keras_hub is None:
        try:
            import keras_hub
        except ImportError as error:
            raise SaveError(f"{INSTALL} ({error})") from None
    backbone_class = getattr(keras_hub.models, class_name)
    converter_class = getattr(keras_hub.layers, class_name.replace("Backbone", "ImageConverter"))
    try:
        backbone = backbone_class.from_preset(preset)
        converter = converter_class.from_preset(preset)
    except Exception as error:  # kagglehub and requests raise many types offline
        raise SaveError(
            f"Could not fetch keras-hub's preset {preset!r} ({type(error).__name__}: {error}). It comes from "
            "Kaggle: run this script on a machine with internet, then copy the directory it writes to this one."
        ) from None

    os.makedirs(out, exist_ok=True)
    backbone.save_to_preset(out)
    converter.save_to_preset(out)
    try:
        saved = read_preset(out, name)  # the same checks as build_backbone at training time
    except (ValueError, FileNotFoundError) as error:
        raise SaveError(f"keras-hub's {preset!r} is not the architecture of {name!r}: {error}") from None
    print(f"Saved keras-hub's {preset!r} ({saved.library} {saved.class_name}, "
          f"{backbone.count_params():,} parameters) to {out}.")
    if saved.normalization not in ("unit", "imagenet"):
        raise SaveError(
            f"The preset normalises pixels as {saved.normalization}, which neither input_normalization 'unit' "
            "nor 'imagenet' reproduces: these weights would see other inputs than they were trained on."
        )
    if check:
        difference = check_features(name, out, backbone, converter, saved.normalization)
        print(f"Checked: build_backbone({name!r}, weights={out!r}) gives keras-hub's features "
              f"(largest difference {difference:.2e} of their range).")
    print(f"The weights expect input_normalization={saved.normalization!r} (an argument of build_backbone, "
          f"build_food_model and build_hand_model). Train with\n"
          f"  --set model.backbone={name} --set model.backbone_weights={out}")
    if saved.symmetric_padding:
        print("Input sides of the form 32k + 1 (225, 257) give keras-hub's features exactly; at other sizes "
              "keras-cv's padding shifts them by a pixel (build_backbone warns).")
    return out


def check_features(name, out, backbone, converter, normalization, size=225, seed=0):
    """Largest |difference| / largest |feature| between keras-hub's backbone and `build_backbone(weights=out)`.

    Both see the same random 0..255 images: keras-hub's backbone after its
    converter's `x * scale + offset`, ours through its `normalization`. The
    size is 32k + 1, where keras-cv's "same" padding equals keras-hub's.

    Raises:
        SaveError: the features differ by more than float rounding (1e-4).
    """
    import keras
    import numpy as np

    from cmva_keras.backbones import build_backbone

    images = np.random.default_rng(seed).integers(0, 256, (2, size, size, 3)).astype("float32")
    config = converter.get_config()
    scale = np.asarray(config.get("scale") if config.get("scale") is not None else 1.0, "float32")
    offset = np.asarray(config.get("offset") if config.get("offset") is not None else 0.0, "float32")
    expected = keras.ops.convert_to_numpy(backbone(images * scale + offset))
    ours = build_backbone(name, input_shape=(size, size, 3), weights=out, input_normalization=normalization)
    features = keras.ops.convert_to_numpy(ours(images))
    if features.shape != expected.shape:
        raise SaveError(f"Feature shapes differ: keras-hub {expected.shape}, build_backbone {features.shape}.")
    difference = float(np.max(np.abs(features - expected)) / max(float(np.max(np.abs(expected))), 1e-12))
    if not difference <= 1e-4:
        raise SaveError(
            f"build_backbone({name!r}) with the saved weights gives other features than keras-hub's backbone "
            f"(largest difference {difference:.2e} of their range at {size}x{size}): the layer order of the two "
            "libraries no longer matches. Please report it with the keras-hub and keras-cv versions."
        )
    return difference


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="The backbone: densenet121 or resnet18 (or another keras-cv name with --preset).")
    parser.add_argument("--out", required=True, help="The preset directory to write.")
    parser.add_argument("--preset", help="A keras-hub preset name other than the default for NAME.")
    parser.add_argument("--overwrite", action="store_true", help="Write into a non-empty --out.")
    parser.add_argument("--no_check", action="store_true",
                        help="Skip the feature check (it builds and runs the backbone again: up to a minute on CPU).")
    args = parser.parse_args(argv)
    try:
        save_backbone_weights(args.name, args.out, preset=args.preset, overwrite=args.overwrite,
                              check=not args.no_check)
    except SaveError as error:
        print(f"save_backbone_weights: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
