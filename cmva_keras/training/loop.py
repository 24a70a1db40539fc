"""`train`: one run of any method (CMVA, a baseline, "+ Mapper") from a config, writing everything to a workdir.

The workdir receives `config.json` (the resolved config), `vocabulary.json`
(food: the ingredient names of the label vector), `history.json` (every
term, the learning rate and the phase, per epoch), `phase_1.keras`,
`phase_2.keras`, `phase_3.keras` (the model at the end of each phase) and
`model.keras` (the final model), and `tensorboard/` (TensorBoard logs). With
validation data (the dataset's split, or `train.validation_fraction`), each
epoch also logs the validation terms (`val_rec_1`, ...) and the task's
metrics (`val_f1`, `val_epe`, ...); `train.keep_best` ends each phase on its
best validation epoch (`best_epochs.json`). A run stopped part-way is resumed by running
the same command again: `backup/` holds Keras' `BackupAndRestore` state.

`train.distribute=data_parallel` trains over every local device (JAX, also
over several processes; TensorFlow); only process 0 writes the workdir, and
several processes validate each on a local copy of the model
(`cmva_keras/training/distribute.py`).
"""

import json
import os
import shutil

import keras
from absl import logging

from cmva_keras import precision
from cmva_keras.callbacks import NonFiniteLossGuard, PhaseCheckpoint, PhaseSchedule, ValidationMetrics
from cmva_keras.callbacks.input_priority import input_priority_callbacks
from cmva_keras.training import distribute, run_files
from cmva_keras.training.config import to_json
from cmva_keras.training.history import HistoryWriter
from cmva_keras.training.setup import build_datasets, build_model, task_of


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


def method_phase_epochs(config):
    """The epochs of each phase of `config`'s method (CMVA: `train.phase_epochs`; the others: `methods.*`)."""
    if config.get("mapper", False):
        return tuple(config.methods.mapper.phase_epochs)
    method = config.get("method", "cmva")
    if method == "cmva":
        return tuple(config.train.phase_epochs)
    return tuple(config.methods[method].phase_epochs)


def tensorboard_callback(workdir):
    """Keras' TensorBoard callback writing `workdir/tensorboard` (train/ and validation/) once per epoch.

    Every number in the epoch's logs is written: the terms, `learning_rate`,
    `phase` and the validation metrics. It uses TensorFlow's summary writer,
    installed with every backend. No graph (traced TF graphs exist only on
    TensorFlow) and no profiling.
    """
    return keras.callbacks.TensorBoard(
        log_dir=os.path.join(workdir, run_files.TENSORBOARD), histogram_freq=0, write_graph=False,
        write_images=False, update_freq="epoch", profile_batch=0,
    )


def method_callbacks(config, model, schedule):
    """Callbacks a method adds to its phases: CADA-VAE's warm-up ramps (over its VAE phase, phase 2)."""
    if config.get("method", "cmva") == "cadavae" and not config.get("mapper", False) and config.methods.cadavae.warmup:
        from cmva_keras.models.cadavae import warmup_callbacks

        return warmup_callbacks(schedule)
    return []


def train(config, workdir):
    """Trains `config`'s method through its phases; returns `(model, history_records)`.

    CMVA and the baselines train from scratch; "+ Mapper" (`config.mapper`)
    trains a mapper on a finished baseline (`config.base_workdir`, else one
    it trains first into `workdir/base`).
    """
    from cmva_keras.training.config import check_config

    check_config(config)
    # Data-parallel (train.distribute) or one device; set before any model is built, and refused
    # with the fix named (PyTorch, a global batch the devices do not divide).
    distribution = distribute.setup(config.train.get("distribute", "none"), global_batch_size=config.train.batch_size)
    # The run's dtype policy (float32, or mixed precision) holds while its model is built and trained.
    with precision.policy_scope(config.train.get("dtype_policy", "float32")), distribution.scope():
        return _train(config, workdir, distribution)


def _train(config, workdir, distribution):
    """`train`'s body, under the run's dtype policy and distribution.

    Process 0 writes `workdir`; any other process of a multi-process job
    writes a scratch folder of its own (`Distribution.process_workdir`).
    """
    if distribution.kind != "none":
        logging.info("Training %s (train.batch_size=%d is the global batch).", distribution.describe(),
                     config.train.batch_size)
    with distribution.process_workdir(workdir) as out:
        with open(os.path.join(out, run_files.CONFIG), "w") as f:
            f.write(to_json(config))
        keras.utils.set_random_seed(config.seed)
        # Several processes validate on one device each (distribute.LocalValidation): nothing to cut.
        data = build_datasets(config, num_replicas=1 if distribution.num_processes > 1 else distribution.num_replicas)
        if data.vocabulary:
            # Label names, read by evaluation and shipped in the exported SavedModel.
            with open(os.path.join(out, run_files.VOCABULARY), "w") as f:
                json.dump(list(data.vocabulary), f, indent=0)
        if config.get("mapper", False):
            model = _mapper_on_baseline(config, workdir, distribution)
        else:
            model = build_model(config, data)
        return _fit(model, config, data, out, distribution)


def _mapper_on_baseline(config, workdir, distribution):
    """`WithMapper` around the finished baseline of `config` (trained here first if needed)."""
    from cmva_keras.layers import Mapper
    from cmva_keras.models import WithMapper

    base_dir = config.base_workdir or os.path.join(workdir, "base")
    if not os.path.exists(os.path.join(base_dir, run_files.MODEL)):
        if config.base_workdir:
            raise FileNotFoundError(
                f"--base_workdir {base_dir} holds no finished run (no {run_files.MODEL}); train the baseline there "
                f"first (scripts/train.py --method {config.method} --workdir {base_dir}) or leave --base_workdir out."
            )
        base_config = config.copy_and_resolve_references()
        with base_config.unlocked():
            base_config.mapper, base_config.base_workdir = False, ""
        _train(base_config, base_dir, distribution)
    _, base_run, _ = run_files.read_run(base_dir)
    found = (base_run.get("task"), base_run.get("method", "cmva"), bool(base_run.get("mapper", False)))
    if found != (config.task, config.method, False):
        raise ValueError(
            f"--base_workdir {base_dir} holds a {found[1]} run of task {found[0]}"
            f"{' with a mapper' if found[2] else ''}; \"+ Mapper\" needs a finished {config.method} run of task "
            f"{config.task}. Point --base_workdir at one, or leave it out to train one."
        )
    import cmva_keras  # noqa: F401  (registers the classes)

    base = keras.models.load_model(os.path.join(base_dir, run_files.MODEL))
    weights = {k: config.model.loss_weights[k] for k in WithMapper.TERMS}
    keras.utils.set_random_seed(config.seed)
    return WithMapper(base, Mapper(config.model.latent_dim, name="mapper"), loss_weights=weights, seed=config.seed,
                      squared_wasserstein=config.model.squared_wasserstein, name="with_mapper")


def _validation_callbacks(config, data, task, distribution):
    """The task's metrics on validation data (and, with several processes, the terms too: `LocalValidation`)."""
    if data.validation_eval is None:
        return []
    metrics = ValidationMetrics(data.validation_eval, task)
    if distribution.num_processes == 1:
        return [metrics]
    return [distribute.LocalValidation(data.validation, data.input_shape, metrics, config.train.jit_compile)]


def epoch_length_text(train_steps):
    """What an epoch reads, for the log: `train_steps` batches, or (None) the whole training split once."""
    return "the whole training split" if train_steps is None else f"{train_steps} training batches"


def _fit(model, config, data, workdir, distribution):
    """Compiles and fits `model` through its phases with the run's callbacks; writes the workdir's files."""
    model.build((None,) + tuple(data.input_shape))
    model.compile(optimizer=make_optimizer(config.train), jit_compile=config.train.jit_compile)
    logging.info("%s for task %s: %s parameters; %s per epoch, in batches of %d.", type(model).__name__,
                 config.task, f"{model.count_params():,}", epoch_length_text(data.train_steps),
                 config.train.batch_size)
    task = task_of(config)
    schedule = PhaseSchedule(method_phase_epochs(config))
    checkpoints = PhaseCheckpoint(
        workdir, schedule, keep_best=bool(config.train.get("keep_best", False)), metric=task.primary_metric,
        higher_is_better=task.higher_is_better,
    )
    backup_dir = os.path.join(workdir, "backup")
    priority = input_priority_callbacks(config.train)
    history = HistoryWriter(os.path.join(workdir, "history.json"))
    callbacks = [
        schedule,  # first: sets the phase before the others see the epoch
        *method_callbacks(config, model, schedule),
        keras.callbacks.LearningRateScheduler(epoch_learning_rate(config.train)),
        # The task's metrics join the epoch's logs before anything records or judges them.
        *_validation_callbacks(config, data, task, distribution),
        NonFiniteLossGuard(last_good_checkpoint=lambda: checkpoints.last_saved or (
            backup_dir if os.path.isdir(backup_dir) else None)),
        checkpoints,
        history,
        *([tensorboard_callback(workdir)] if config.train.get("tensorboard", True) else []),
        keras.callbacks.BackupAndRestore(backup_dir),
        *priority,
    ]
    try:
        model.fit(
            data.train,
            epochs=schedule.total_epochs,
            steps_per_epoch=data.train_steps,
            # Several processes validate in distribute.LocalValidation instead.
            validation_data=data.validation if distribution.num_processes == 1 else None,
            shuffle=False,  # the pipeline shuffles; Keras ignores (and warns about) shuffle=True for tf.data
            callbacks=callbacks,
            verbose=config.train.verbose,
        )
    finally:
        for callback in priority:  # a fit that raises skips on_train_end: stop the watcher here
            callback.on_train_end()
    model.save(os.path.join(workdir, run_files.MODEL))
    # Every process waits for process 0's model.keras (a "+ Mapper" run reads its baseline's next).
    distribution.barrier("cmva-model-saved")
    shutil.rmtree(backup_dir, ignore_errors=True)
    logging.info("Wrote %s.", os.path.join(workdir, run_files.MODEL))
    return model, history.records
