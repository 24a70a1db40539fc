"""Task configs and command-line overrides (cmva_keras/training/config.py)."""

import json

import pytest

from cmva_keras.training import config as config_lib


@pytest.mark.parametrize("task", ["food", "hand"])
@pytest.mark.parametrize("variant", ["default", "smoke", "paper"])
def test_every_variant_loads_and_has_a_three_phase_schedule(task, variant):
    config = config_lib.load_config(task, variant)
    assert config.task == task
    assert len(config.train.phase_epochs) == 3 and all(e > 0 for e in config.train.phase_epochs)
    assert set(config.model.loss_weights.keys()) == {"rec_1", "kl_1", "rec_2", "kl_2", "rec_m", "kl_m", "w2"}
    json.loads(config_lib.to_json(config))


def test_paper_variant_uses_the_papers_settings():
    food = config_lib.load_config("food", "paper")
    assert (food.model.backbone, food.model.latent_dim, food.data.crop_size) == ("densenet121", 512, 224)
    assert food.train.learning_rate == 1e-4 and food.train.lr_decay == 0.99
    hand = config_lib.load_config("hand", "paper")
    assert (hand.model.backbone, hand.data.image_size, hand.train.batch_size) == ("resnet18", 256, 64)
    assert hand.model.hidden_units == (512,) * 5



@pytest.mark.parametrize("task", ["food", "hand"])
def test_default_config_trains_on_the_synthetic_cache_default(task):
    """`ensure_default(task)` without arguments names the set the default config generates, not a second one."""
    from cmva_keras import tasks
    from cmva_keras.synthetic import cache

    config = config_lib.load_config(task, "default")
    assert config.data.dataset == "synthetic"
    sizes = tasks.get(task).synthetic_sizes(config)
    assert cache.default_path(task, cache_dir="/c") == cache.default_path(task, cache_dir="/c", **sizes)


def test_overrides_are_typed_and_dotted():
    config = config_lib.resolve_config(
        "food", "smoke", dataset="yummly28k", manual_dir="/data/y",
        overrides=["train.batch_size=8", "model.loss_weights.w2=0.5", "train.phase_epochs=[2, 1, 1]", "train.learning_rate=1"],
    )
    assert config.train.batch_size == 8
    assert config.model.loss_weights.w2 == 0.5
    assert config.train.phase_epochs == (2, 1, 1)
    assert config.train.learning_rate == 1.0 and isinstance(config.train.learning_rate, float)
    assert (config.data.dataset, config.data.manual_dir) == ("yummly28k", "/data/y")


def test_unknown_key_lists_the_valid_ones():
    config = config_lib.load_config("hand")
    with pytest.raises(ValueError, match=r"Unknown config key 'train.batchsize'.*train\.batch_size"):
        config_lib.apply_overrides(config, ["train.batchsize=3"])


def test_wrong_type_and_malformed_overrides_are_refused():
    config = config_lib.load_config("hand")
    with pytest.raises(ValueError, match="holds a int"):
        config_lib.apply_overrides(config, ["train.batch_size=big"])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        config_lib.apply_overrides(config, ["train.batch_size"])


def test_unknown_task_and_variant_list_the_valid_ones():
    with pytest.raises(ValueError, match="food, hand"):
        config_lib.load_config("speech")
    with pytest.raises(ValueError, match="default, smoke, paper"):
        config_lib.load_config("food", "huge")


def test_config_is_locked_against_new_keys():
    config = config_lib.load_config("food")
    with pytest.raises(AttributeError):
        config.train.batchsize = 3
