"""`train`: one CMVA run from a config, writing everything to a workdir.

The workdir receives `config.json` (the resolved config), `vocabulary.json`
(food: the ingredient names of the label vector), `history.json` (every
term, the learning rate and the phase, per epoch), `phase_1.keras`,
`phase_2.keras`, `phase_3.keras` (the model at the end of each phase) and
`model.keras` (the final model). A run stopped part-way is resumed by running
the same command again: `backup/` holds Keras' `BackupAndRestore` state.
"""

import json
import os
import shutil

import keras
from absl import logging

from cmva_keras.callbacks import NonFiniteLossGuard, PhaseCheckpoint, PhaseSchedule
from cmva_keras.training import run_files
from cmva_keras.training.config import to_json
from cmva_keras.training.history import HistoryWriter
from cmva_keras.training.setup import build_datasets, build_model


def make_optimizer(train_config):
    """The paper's optimizer: Adam (lr 1e-4, beta 0.9 / 0.999 by default)."""
    return keras.optimizers.Adam(
        learning_rate=train_config.learning_rate,
        beta_1=train_config.beta_1,
        beta_2=train_config.beta_2,
    )


def epoch_learning_rate(train_config):
    """`lr * decay ** epoch`: the paper's "scaled by 0.99 after every epoch", over the whole run."""
    base, decay = float(train_config.learning_rate), float(train_config.lr_decay)
    return lambda epoch, lr=None: base * decay**epoch


def train(config, workdir):
    """Trains CMVA through its three phases as `config` says; returns `(model, history_records)`."""
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, run_files.CONFIG), "w") as f:
        f.write(to_json(config))
    keras.utils.set_random_seed(config.seed)

    data = build_datasets(config)
    if data.vocabulary:
        # Label names, read by evaluation and shipped in the exported SavedModel.
        with open(os.path.join(workdir, run_files.VOCABULARY), "w") as f:
            json.dump(list(data.vocabulary), f, indent=0)
    model = build_model(config, data)
    model.build((None,) + tuple(data.input_shape))
    model.compile(optimizer=make_optimizer(config.train), jit_compile=config.train.jit_compile)
    logging.info(
        "CMVA for task %s: %s parameters; %s training batches of %d per epoch.",
        config.task, f"{model.count_params():,}", data.train_steps, config.train.batch_size,
    )

    schedule = PhaseSchedule(tuple(config.train.phase_epochs))
    checkpoints = PhaseCheckpoint(workdir, schedule)
    backup_dir = os.path.join(workdir, "backup")
    history = HistoryWriter(os.path.join(workdir, "history.json"))
    callbacks = [
        schedule,  # first: sets the phase before the others see the epoch
        keras.callbacks.LearningRateScheduler(epoch_learning_rate(config.train)),
        NonFiniteLossGuard(last_good_checkpoint=lambda: checkpoints.last_saved or (
            backup_dir if os.path.isdir(backup_dir) else None)),
        checkpoints,
        history,
        keras.callbacks.BackupAndRestore(backup_dir),
    ]
    model.fit(
        data.train,
        epochs=schedule.total_epochs,
        steps_per_epoch=data.train_steps,
        callbacks=callbacks,
        verbose=config.train.verbose,
    )
    model.save(os.path.join(workdir, run_files.MODEL))
    shutil.rmtree(backup_dir, ignore_errors=True)
    logging.info("Wrote %s.", os.path.join(workdir, run_files.MODEL))
    return model, history.records
