"""The task configs, as code, shipped with the package (`get_config(variant)` per task).

`cmva_keras.configs.food` and `cmva_keras.configs.hand` hold each task's
variants; `common` what they share. The repository's top-level `configs/`
re-exports them, so `configs/food.py` stays the file a reader opens.
"""
