"""Training runs from configs: config handling, datasets and model setup, the phased loop, run files.

`scripts/train.py` is a thin app over `loop.train`; users who write their own
scripts can take the pieces: `config.load_config`, `setup.build_datasets`,
`setup.build_model`, `run_files.read_run`.
"""
