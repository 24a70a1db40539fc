"""The paper's two task models, built from the core CMVA parts.

- `build_food_model`: food image -> multi-hot ingredients (section 4.1).
- `build_hand_model`: RGB hand crop -> 21 x 3 hand pose (section 4.2).

Each module also has `VARIANTS`: the paper's configuration ("paper") and a
small one that trains on 2 CPU cores ("small").
"""

from cmva_keras.tasks import food, hand
from cmva_keras.tasks.food import build_food_image_features, build_food_model
from cmva_keras.tasks.hand import build_hand_image_features, build_hand_model

__all__ = [
    "build_food_image_features",
    "build_food_model",
    "build_hand_image_features",
    "build_hand_model",
    "food",
    "hand",
]
