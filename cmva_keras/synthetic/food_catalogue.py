"""The synthetic food world: ingredients, their looks, their recipe lines, cuisines.

Every visible ingredient has its own visual signature, a (shape, colour,
texture, size, number of pieces) tuple; several share a colour or a shape but
no two share all of them, so telling them apart needs more than a colour
histogram. A few pantry ingredients (salt, pepper, olive oil) are invisible,
as in real food photos: a model can only guess them from the cuisine.

Recipes draw ingredients from a cuisine's weights, which gives realistic
co-occurrence (tortilla with black beans and cilantro, pasta with tomato and
basil). Recipe lines are written like real ones ("1 (14.5 oz.) can diced
tomatoes, drained") and every phrase is one that
`cmva_keras.datasets.ingredient_parser` maps to the ingredient's canonical
name, so the synthetic set exercises the real parser.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Look:
    """How one piece of an ingredient is drawn.

    Attributes:
        shape: one of `food_render.SHAPES`.
        color: base RGB.
        texture: one of `food_render.TEXTURES`.
        accent: second RGB used by the texture.
        size: (min, max) piece size in pixels on a 360x240 image.
        pieces: (min, max) number of pieces on a plate.
    """

    shape: str
    color: tuple
    texture: str
    accent: tuple
    size: tuple
    pieces: tuple


@dataclasses.dataclass(frozen=True)
class Ingredient:
    """A synthetic ingredient.

    Attributes:
        name: canonical name (what the parser returns for its lines).
        phrases: ways a recipe line names it.
        units: quantity units used with it ("" for countable items).
        look: `Look`, or None for invisible pantry items.
    """

    name: str
    phrases: tuple
    units: tuple
    look: Look = None


def _i(name, phrases, units, shape=None, color=None, texture="solid", accent=(0, 0, 0),
       size=(20, 30), pieces=(3, 6)):
    look = None if shape is None else Look(shape, color, texture, accent, size, pieces)
    return Ingredient(name, tuple(phrases), tuple(units), look)


INGREDIENTS = (
    _i("tomato", ["tomatoes", "diced tomatoes", "cherry tomatoes", "roma tomatoes", "ripe tomato"],
       ["", "cup", "can (14.5 oz.)"], "circle", (214, 38, 34), "highlight", (255, 150, 140), (22, 34), (3, 6)),
    _i("pasta", ["spaghetti", "penne pasta", "elbow macaroni", "dried linguine", "fettuccine"],
       ["ounces", "lb.", "pound"], "strip", (238, 208, 118), "solid", (210, 170, 80), (40, 60), (8, 14)),
    _i("basil", ["fresh basil leaves", "basil", "chopped fresh basil"],
       ["cup", "tablespoons", "sprigs"], "leaf", (46, 138, 52), "vein", (120, 200, 110), (18, 26), (3, 6)),
    _i("parmesan", ["grated Parmesan cheese", "Parmigiano-Reggiano", "shaved parmesan"],
       ["cup", "ounces"], "flakes", (246, 236, 196), "speckle", (200, 180, 120), (6, 10), (18, 30)),
    _i("mozzarella", ["fresh mozzarella", "shredded mozzarella cheese", "mozzarella"],
       ["ounces", "cup"], "circle", (250, 249, 238), "rim", (210, 205, 185), (26, 36), (2, 4)),
    _i("garlic", ["garlic, minced", "garlic cloves, minced", "garlic"],
       ["", "cloves", "cloves"], "drop", (242, 236, 218), "stripes", (205, 190, 160), (14, 20), (2, 5)),
    _i("mushroom", ["sliced mushrooms", "cremini mushrooms", "button mushrooms"],
       ["ounces", "cups", "lb."], "cap", (152, 108, 76), "speckle", (95, 65, 45), (20, 30), (3, 6)),
    _i("olives", ["kalamata olives, pitted", "black olives", "sliced black olives"],
       ["cup", "can (2.25 oz.)"], "ring", (52, 30, 48), "solid", (20, 10, 20), (10, 15), (5, 9)),
    _i("bell pepper", ["red bell pepper", "yellow bell pepper", "green bell pepper"],
       ["", "large"], "crescent", (250, 196, 18), "solid", (255, 240, 120), (26, 38), (3, 5)),
    _i("onion", ["yellow onion", "onion", "white onion"],
       ["", "medium", "cup"], "ring", (232, 212, 232), "concentric", (190, 150, 190), (22, 32), (2, 4)),
    _i("black beans", ["black beans, rinsed and drained", "black beans"],
       ["can (15 oz.)", "cups"], "grain", (32, 26, 34), "highlight", (110, 100, 120), (6, 9), (18, 30)),
    _i("corn", ["corn kernels", "frozen corn, thawed", "sweet corn"],
       ["cup", "cups", "can (15.25 oz.)"], "grain", (250, 214, 58), "solid", (255, 240, 150), (6, 9), (18, 30)),
    _i("avocado", ["ripe avocados", "avocado, diced", "Hass avocado"],
       ["", "large"], "halfpit", (142, 182, 62), "rim", (60, 100, 30), (32, 44), (1, 2)),
    _i("chili pepper", ["jalapeño, seeded and minced", "serrano chiles", "jalapeno peppers"],
       ["", "small"], "crescent", (222, 58, 22), "tip", (40, 120, 40), (22, 30), (2, 4)),
    _i("cilantro", ["chopped fresh cilantro", "cilantro leaves", "fresh cilantro"],
       ["cup", "tablespoons", "bunch"], "star", (78, 168, 58), "solid", (40, 110, 30), (12, 18), (5, 10)),
    _i("lime", ["lime, cut into wedges", "limes", "lime wedges"],
       ["", "small"], "wedge", (118, 198, 58), "radial", (210, 240, 170), (24, 32), (2, 3)),
    _i("tortilla", ["flour tortillas", "corn tortillas", "tortillas (8 inch)"],
       ["", "large"], "disc", (230, 198, 140), "spots", (160, 110, 60), (70, 90), (1, 2)),
    _i("cheddar", ["shredded cheddar cheese", "sharp cheddar cheese", "cheddar"],
       ["cup", "ounces"], "square", (246, 150, 30), "solid", (255, 190, 90), (10, 15), (6, 12)),
    _i("rice", ["long-grain white rice", "basmati rice", "cooked brown rice", "jasmine rice"],
       ["cup", "cups"], "grain", (245, 245, 238), "solid", (220, 220, 210), (5, 7), (40, 60)),
    _i("broccoli", ["broccoli florets", "broccoli, cut into florets", "broccoli"],
       ["cups", "head", "lb."], "cluster", (38, 108, 40), "speckle", (90, 160, 70), (22, 30), (3, 5)),
    _i("carrot", ["carrots, peeled and sliced", "carrots", "baby carrots"],
       ["", "medium", "cups"], "circle", (240, 120, 30), "concentric", (255, 170, 80), (12, 18), (5, 9)),
    _i("green onion", ["green onions, thinly sliced", "scallions", "spring onions"],
       ["", "bunch"], "ring", (122, 192, 82), "solid", (220, 240, 200), (8, 12), (8, 14)),
    _i("shrimp", ["large shrimp, peeled and deveined", "shrimp", "raw prawns"],
       ["lb.", "ounces"], "crescent", (246, 150, 118), "stripes", (255, 220, 200), (24, 32), (4, 7)),
    _i("tofu", ["extra firm tofu, cubed", "firm tofu", "tofu"],
       ["ounces", "package (14 oz.)"], "square", (240, 234, 206), "rim", (200, 190, 150), (16, 22), (4, 8)),
    _i("strawberries", ["strawberries, hulled", "fresh strawberries", "sliced strawberries"],
       ["cups", "pint", "lb."], "triangle", (212, 30, 52), "seeds", (250, 230, 90), (20, 28), (4, 7)),
    _i("blueberries", ["fresh blueberries", "blueberries", "frozen blueberries"],
       ["cup", "pint"], "circle", (48, 58, 122), "highlight", (120, 130, 190), (8, 11), (10, 18)),
    _i("chocolate", ["semisweet chocolate, chopped", "dark chocolate", "bittersweet chocolate"],
       ["ounces", "bar"], "square", (82, 46, 26), "grid", (55, 28, 14), (22, 30), (2, 4)),
    _i("banana", ["ripe bananas", "bananas, sliced", "banana"],
       ["", "large"], "circle", (246, 232, 152), "seeds", (150, 120, 60), (14, 18), (5, 9)),
    _i("egg", ["large eggs", "eggs, lightly beaten", "eggs"],
       ["", "large"], "friedegg", (250, 250, 245), "solid", (250, 190, 20), (34, 44), (1, 2)),
    _i("bacon", ["bacon", "thick-cut bacon", "bacon, cooked and crumbled"],
       ["slices", "ounces", "strips"], "strip", (196, 78, 70), "stripes", (250, 220, 210), (44, 60), (3, 5)),
    _i("bread", ["crusty bread", "whole wheat bread", "sourdough bread"],
       ["slices", "loaf"], "slice", (222, 172, 102), "rim", (140, 90, 40), (40, 52), (1, 3)),
    _i("lettuce", ["romaine lettuce, chopped", "lettuce leaves", "iceberg lettuce"],
       ["head", "cups"], "leaf", (152, 212, 92), "vein", (220, 245, 190), (36, 50), (3, 5)),
    _i("cucumber", ["English cucumber, sliced", "cucumbers", "cucumber"],
       ["", "medium"], "circle", (202, 232, 162), "rimseeds", (50, 120, 40), (18, 24), (4, 7)),
    _i("feta", ["crumbled feta cheese", "feta cheese", "feta"],
       ["cup", "ounces"], "square", (252, 252, 246), "speckle", (215, 215, 200), (8, 12), (8, 14)),
    _i("walnuts", ["chopped walnuts", "walnut halves", "toasted walnuts"],
       ["cup", "ounces"], "blob", (150, 100, 50), "wrinkle", (90, 55, 25), (14, 20), (4, 8)),
    _i("potato", ["russet potatoes, cubed", "red potatoes", "Yukon gold potatoes"],
       ["", "lb.", "medium"], "square", (226, 200, 140), "spots", (170, 130, 70), (18, 26), (4, 8)),
    _i("salmon", ["salmon fillets", "skinless salmon fillet", "salmon"],
       ["lb.", "ounces"], "slab", (250, 130, 90), "stripes", (255, 215, 195), (50, 64), (1, 2)),
    _i("lemon", ["lemon, cut into wedges", "lemon slices", "lemon"],
       ["", "large"], "wedge", (250, 228, 52), "radial", (255, 250, 200), (24, 32), (1, 3)),
    _i("spinach", ["baby spinach", "fresh spinach leaves", "spinach"],
       ["cups", "ounces", "bag (6 oz.)"], "leaf", (30, 98, 42), "solid", (70, 140, 60), (16, 24), (5, 9)),
    _i("chicken", ["boneless, skinless chicken breasts", "chicken thighs", "chicken breast halves"],
       ["lb.", "", "pounds"], "slab", (212, 170, 118), "grill", (110, 70, 35), (46, 60), (1, 3)),
    # Invisible pantry items: in the lines, not in the picture.
    _i("salt", ["kosher salt", "salt", "sea salt"], ["teaspoon", "pinch", "teaspoons"]),
    _i("black pepper", ["freshly ground black pepper", "black pepper", "ground pepper"], ["teaspoon", "pinch"]),
    _i("olive oil", ["extra-virgin olive oil", "olive oil"], ["tablespoons", "cup", "tablespoon"]),
    # Rare items, dropped by the vocabulary's frequency threshold.
    _i("saffron", ["saffron threads"], ["pinch"]),
    _i("xanthan gum", ["xanthan gum"], ["teaspoon"]),
)

BY_NAME = {ingredient.name: ingredient for ingredient in INGREDIENTS}
RARE = ("saffron", "xanthan gum")
RARE_PROBABILITY = 0.0015

# cuisine -> (course, table colours, {ingredient: weight})
CUISINES = {
    "Italian": ("Main Dishes", ((150, 40, 40), (235, 225, 210)), {
        "pasta": 3, "tomato": 3, "basil": 2.5, "parmesan": 2.5, "mozzarella": 2, "garlic": 2,
        "olives": 1, "mushroom": 1.2, "spinach": 0.8, "bell pepper": 0.6, "olive oil": 3,
        "salt": 2, "black pepper": 1.5, "chicken": 0.8, "bread": 0.6, "onion": 1, "shrimp": 0.5}),
    "Mexican": ("Main Dishes", ((200, 120, 40), (60, 110, 90)), {
        "tortilla": 3, "black beans": 2.5, "corn": 2, "avocado": 2.5, "chili pepper": 2,
        "cilantro": 2.5, "lime": 2, "cheddar": 2, "tomato": 1.5, "onion": 1.5, "rice": 1,
        "chicken": 1.2, "bell pepper": 1, "salt": 1.5}),
    "Asian": ("Main Dishes", ((30, 30, 36), (170, 40, 40)), {
        "rice": 3, "broccoli": 2, "carrot": 2, "green onion": 2.5, "shrimp": 1.5, "tofu": 1.5,
        "egg": 1, "chili pepper": 1, "bell pepper": 1.2, "mushroom": 1, "chicken": 1.5,
        "salmon": 0.8, "garlic": 1.5, "cucumber": 0.6, "spinach": 0.5}),
    "American": ("Breakfast and Brunch", ((120, 80, 50), (230, 230, 240)), {
        "egg": 3, "bacon": 2.5, "bread": 2.5, "banana": 1.2, "blueberries": 1.2, "avocado": 1,
        "potato": 1.5, "cheddar": 1.2, "spinach": 0.8, "tomato": 0.8, "strawberries": 0.8,
        "salt": 1.5, "black pepper": 1}),
    "French": ("Desserts", ((240, 200, 210), (120, 60, 80)), {
        "chocolate": 3, "strawberries": 2.5, "blueberries": 2.5, "banana": 2, "walnuts": 1.5,
        "lemon": 1.2, "egg": 0.8}),
    "Greek": ("Salads", ((60, 110, 180), (240, 240, 235)), {
        "lettuce": 3, "cucumber": 2.5, "tomato": 2.5, "feta": 2, "olives": 1.5, "onion": 1.5,
        "walnuts": 1, "carrot": 1.2, "spinach": 1.5, "avocado": 1, "corn": 0.6, "chicken": 1,
        "olive oil": 2, "salt": 1, "black pepper": 1, "lemon": 1}),
    "Southern & Soul Food": ("Main Dishes", ((90, 60, 40), (200, 170, 120)), {
        "chicken": 2.5, "salmon": 1.5, "potato": 2.5, "broccoli": 1.5, "carrot": 1.2, "lemon": 1.2,
        "garlic": 1.5, "mushroom": 1, "green onion": 0.8, "bacon": 0.8, "corn": 1, "bread": 0.7,
        "olive oil": 1.5, "salt": 2, "black pepper": 2}),
}
BACKGROUND_WEIGHT = 0.12  # every visible ingredient's weight outside its cuisines

QUANTITIES = ("1", "2", "3", "4", "1/2", "1/4", "3/4", "1 1/2", "2 1/2", "½", "¼", "1-2", "6", "8")
PREFIXES = ("", "", "", "chopped ", "fresh ", "diced ", "sliced ")
SUFFIXES = ("", "", "", ", divided", ", chopped", ", at room temperature", " (optional)", ", for serving")
HEADERS = ("For the sauce:", "Topping:", "For the garnish:", "Dressing:")
DISHES = ("Bowl", "Salad", "Skillet", "Bake", "Tacos", "Stir-Fry", "Plate", "Platter", "Tart", "Toast")
