"""What the task configs share: the loss-weight block, the optimizer block, the methods block.

Each task config (`food.py`, `hand.py`) builds on these, so a change to, say,
the paper's optimizer is made once.
"""

import ml_collections

METHODS = ("cmva", "cmvae", "cadavae")


def cmva_loss_weights(**overrides):
    """Base weights of CMVA's seven terms (eq. 6); each phase zeroes the ones it does not train.

    The task losses are means (BCE per label, MSE per coordinate) while the KL
    terms are sums over the latent dimensions, so the KL weights are small:
    with weight 1 the summed KL of a 128-d latent swamps a mean task loss and
    the posterior collapses. `w2` is also a sum over dimensions (under a root).
    """
    weights = dict(rec_1=1.0, kl_1=1e-4, rec_2=1.0, kl_2=1e-4, rec_m=1.0, kl_m=1e-4, w2=1e-3)
    weights.update(overrides)
    return ml_collections.ConfigDict(weights)


def train_block(**overrides):
    """The optimizer and loop: the paper's Adam (beta 0.9 / 0.999), lr times 0.99 after every epoch."""
    train = ml_collections.ConfigDict()
    train.batch_size = 32
    train.phase_epochs = (12, 6, 6)  # CMVA: epochs of phases 1 (branches), 2 (mapper), 3 (fine-tuning)
    train.steps_per_epoch = 0  # 0: the whole training split each epoch
    train.learning_rate = 1e-3  # an untuned choice for the small offline models; paper (and compile()): 1e-4
    train.lr_decay = 0.99  # learning rate times this after every epoch
    train.beta_1 = 0.9
    train.beta_2 = 0.999
    train.jit_compile = "auto"
    train.verbose = 2  # Keras fit verbosity: 2 = one line per epoch
    # Validation each epoch (terms and the task's metric): the dataset's validation split where it has
    # one; else this part of the training split, held out by a hash of each example's id and the seed.
    train.validation_fraction = 0.0
    train.keep_best = False  # end each phase on its best validation epoch (needs validation data)
    train.tensorboard = True  # TensorBoard logs in WORKDIR/tensorboard
    # "low": while training, the input pipeline's threads run at the lowest priority, below the training
    # step's (Linux; cmva_keras/callbacks/input_priority.py); "normal": at the same priority.
    train.input_priority = "low"
    # "none": one device; "data_parallel": every local device (JAX: keras.distribution.DataParallel, also
    # over several processes; TensorFlow: MirroredStrategy; not PyTorch). batch_size is then the global
    # batch, split evenly between the devices; the learning rate is not rescaled (cmva_keras/training/distribute.py).
    train.distribute = "none"
    # Keras dtype policy: "float32", or mixed precision "mixed_bfloat16" / "mixed_float16" (loss scaling);
    # the Gaussian heads, the mapper, the decoders' outputs and the terms stay float32 (cmva_keras/precision.py).
    train.dtype_policy = "float32"
    for key, value in overrides.items():
        train[key] = value
    return train


def methods_block(cmva_phase_epochs):
    """Per-method settings: which method trains, "+ Mapper", and each baseline's phases.

    The baselines get the same number of epochs in all as CMVA, so a
    comparison spends the same training budget on every method. CADA-VAE's
    three phases take CMVA's three phases' epochs (features as CMVA's
    branches, VAEs as its mapper phase, the latent head as its fine-tuning):
    with fewer, its single-layer head was still far from converged (food:
    its loss fell from 37 to 17 in 3 epochs while the VAE's own target
    reconstruction stood at 9). "+ Mapper" trains the mapper for as many
    epochs as CMVA's phase 2.
    """
    cmva_phase_epochs = tuple(int(e) for e in cmva_phase_epochs)
    methods = ml_collections.ConfigDict()
    # CM-VAE (Spurr et al.): one phase, the three paths summed.
    methods.cmvae = ml_collections.ConfigDict()
    methods.cmvae.phase_epochs = (sum(cmva_phase_epochs),)
    methods.cmvae.loss_weights = ml_collections.ConfigDict(
        dict(rec_image=1.0, kl_image=1e-4, rec_target=1.0, kl_target=1e-4, rec_cross=1.0)
    )
    # CADA-VAE (Schönfeld et al.): features, VAEs (with the official warm-ups), the latent head.
    methods.cadavae = ml_collections.ConfigDict()
    methods.cadavae.phase_epochs = cmva_phase_epochs
    methods.cadavae.hidden_units = 512  # the single hidden layer of each CADA-VAE encoder and decoder
    methods.cadavae.warmup = True  # the official code's warm-up ramps over the VAE phase
    # "+ Mapper": the mapper alone on a frozen baseline.
    methods.mapper = ml_collections.ConfigDict()
    methods.mapper.phase_epochs = (cmva_phase_epochs[1],)
    return methods


def run_block(task, variant):
    """A new config with the run keys every task has, and the `data` keys every dataset has."""
    config = ml_collections.ConfigDict()
    config.task = task
    config.variant = variant
    config.seed = 0  # global seed: weights, noise, data order
    config.method = "cmva"  # "cmva", "cmvae" (CM-VAE) or "cadavae" (CADA-VAE)
    config.mapper = False  # baselines only: "+ Mapper", a mapper trained on the frozen baseline
    config.base_workdir = ""  # "+ Mapper": a finished baseline run to reuse ("" = train it first)
    config.data = ml_collections.ConfigDict()
    config.data.dataset = "synthetic"  # the offline default, or one of the task's real datasets
    config.data.manual_dir = ""  # the downloaded dataset's folder (real datasets only)
    config.data.data_dir = ""  # where TFDS writes prepared data; "" = the cache folder
    config.data.deterministic = False  # deterministic tf.data order (slower)
    # Training images decoded (food: resized; hand: cut to the window its crops can sample) once, cached as
    # uint8, then augmented afresh each epoch: "memory" (offline defaults: food 0.09 GB, hand 0.41 GB),
    # "none", or a folder for a file cache (a dataset larger
    # than memory; the file is named by a hash of the dataset and settings, and reused by later runs).
    config.data.cache = "memory"
    return config


def model_block(backbone, latent_dim):
    """The `model` keys both tasks share: backbone, its weights file, latent size, loss weights."""
    model = ml_collections.ConfigDict()
    model.backbone = backbone
    # A preset folder or weights file you supply (scripts/save_backbone_weights.py); never downloaded.
    model.backbone_weights = ""
    # Pixels as the backbone expects them: "unit" (x / 255) or "imagenet" (also ImageNet mean/std: the
    # ImageNet weights of scripts/save_backbone_weights.py need it).
    model.input_normalization = "unit"
    model.latent_dim = latent_dim
    model.loss_weights = cmva_loss_weights()
    model.squared_wasserstein = False
    # CMVA: a reconstruction term a phase only logs (rec_1, rec_2 in phase 2; rec_m in phase 1) is
    # computed on the first of every this many training steps of an epoch, skipping its decoder pass
    # on the others (StagedModel's docstring); 1: on every step.
    model.inactive_terms_every = 10
    return model


def finish(config, variant):
    """The training settings of the smoke and paper variants, then the methods block; returns `config`.

    smoke: batch 16, one epoch per phase of 4 steps (seconds). paper: the
    paper's Adam at 1e-4, batch 64, 50 + 20 + 20 epochs (epochs per phase are
    not in the paper).
    """
    if variant == "smoke":
        config.train.batch_size = 16
        config.train.phase_epochs = (1, 1, 1)
        config.train.steps_per_epoch = 4
    elif variant == "paper":
        config.train.batch_size = 64
        config.train.phase_epochs = (50, 20, 20)
        config.train.learning_rate = 1e-4
        config.train.verbose = 1
    config.methods = methods_block(config.train.phase_epochs)
    return config
