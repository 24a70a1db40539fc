"""The word lists behind Yummly-28K's ingredient extraction.

`INGREDIENT_GROUPS` is the grouping of similar ingredients: each line is
`canonical = alias, alias, ...`; a recipe line mentioning any alias counts as
the canonical ingredient (spaghetti and macaroni are both "pasta"; scallions,
spring onions and green onions are one ingredient). Aliases are matched as
whole words after plural folding, longest first, so "sour cream" wins over
"cream" and "chicken broth" over "chicken". Ingredients not in the table keep
their cleaned name (and are dropped by the frequency threshold if rare).

`UNITS`, `PREPARATION` and `DESCRIPTORS` are removed from a line before an
unknown ingredient is named; `STOPWORDS` never name an ingredient.
"""

INGREDIENT_GROUPS = """
# --- pantry, seasoning
salt = salt, kosher salt, sea salt, table salt, coarse salt, fine salt, seasoned salt, garlic salt, celery salt, onion salt
black pepper = pepper, black pepper, peppercorn, black peppercorn, white pepper, pepper to taste, cracked pepper
sugar = sugar, white sugar, granulated sugar, caster sugar, superfine sugar, cane sugar, sugar substitute
brown sugar = brown sugar, light brown sugar, dark brown sugar, muscovado, demerara sugar, turbinado sugar
powdered sugar = powdered sugar, confectioners sugar, confectioner sugar, icing sugar
honey = honey
maple syrup = maple syrup, pancake syrup
corn syrup = corn syrup, light corn syrup, golden syrup
molasses = molasses
flour = flour, all-purpose flour, all purpose flour, plain flour, bread flour, cake flour, self-rising flour, self raising flour, wheat flour, whole wheat flour, pastry flour, unbleached flour
cornstarch = cornstarch, corn starch, cornflour, arrowroot, potato starch, tapioca starch
cornmeal = cornmeal, polenta, corn meal, masa harina, grits
baking powder = baking powder
baking soda = baking soda, bicarbonate of soda, bicarbonate
yeast = yeast, active dry yeast, instant yeast, dry yeast
vanilla = vanilla, vanilla extract, vanilla bean, vanilla essence, pure vanilla extract
almond extract = almond extract
cocoa = cocoa, cocoa powder, unsweetened cocoa, cacao powder
chocolate = chocolate, semisweet chocolate, bittersweet chocolate, dark chocolate, milk chocolate, unsweetened chocolate, chocolate bar, baking chocolate
chocolate chips = chocolate chip, semisweet chocolate chip, chocolate morsel, mini chocolate chip
white chocolate = white chocolate, white chocolate chip
gelatin = gelatin, gelatine, unflavored gelatin
water = water, cold water, hot water, warm water, boiling water, ice water, ice, ice cube, sparkling water, club soda, soda water
# --- oils and fats
olive oil = olive oil, extra virgin olive oil, extra-virgin olive oil, light olive oil
vegetable oil = vegetable oil, canola oil, oil, cooking oil, sunflower oil, corn oil, peanut oil, grapeseed oil, safflower oil, frying oil, neutral oil, rapeseed oil
sesame oil = sesame oil, toasted sesame oil, dark sesame oil
coconut oil = coconut oil
cooking spray = cooking spray, nonstick cooking spray, nonstick spray, vegetable cooking spray
butter = butter, unsalted butter, salted butter, margarine, ghee, clarified butter
shortening = shortening, vegetable shortening, lard
# --- dairy and eggs
egg = egg, large egg, egg yolk, yolk, egg white, whole egg, hard-boiled egg, hard boiled egg, egg substitute
milk = milk, whole milk, skim milk, low-fat milk, 2% milk, nonfat milk, evaporated milk, dry milk, milk powder, almond milk, soy milk, rice milk, oat milk
buttermilk = buttermilk
sweetened condensed milk = sweetened condensed milk, condensed milk
heavy cream = heavy cream, whipping cream, heavy whipping cream, double cream, cream, light cream, single cream, halfnhalf, creme fraiche, crème fraîche
ice cream = ice cream, vanilla ice cream, frozen yogurt, sorbet, gelato, sherbet
whipped topping = whipped topping, cool whip, whipped cream
sour cream = sour cream
yogurt = yogurt, yoghurt, greek yogurt, plain yogurt, vanilla yogurt
cream cheese = cream cheese, neufchatel, mascarpone
cheese = cheese, cheese blend, mexican cheese, shredded cheese, processed cheese, velveeta, american cheese, colby, provolone, havarti, fontina, cheese slice
cheddar = cheddar, cheddar cheese, sharp cheddar, sharp cheddar cheese, mild cheddar, white cheddar
mozzarella = mozzarella, mozzarella cheese, fresh mozzarella, burrata, bocconcini
parmesan = parmesan, parmesan cheese, parmigiano, parmigiano-reggiano, parmigiano reggiano, grana padano, pecorino, pecorino romano, romano, romano cheese, asiago
feta = feta, feta cheese
goat cheese = goat cheese, chevre, chèvre
ricotta = ricotta, ricotta cheese, cottage cheese
blue cheese = blue cheese, gorgonzola, roquefort, stilton
swiss cheese = swiss cheese, swiss, gruyere, gruyère, emmental, emmentaler, jarlsberg
monterey jack = monterey jack, monterey jack cheese, jack cheese, pepper jack, pepper jack cheese, queso fresco, cotija, queso blanco
# --- meat
chicken = chicken, chicken breast, chicken thigh, chicken breast half, chicken leg, chicken drumstick, chicken wing, chicken tender, chicken tenderloin, rotisserie chicken, whole chicken, broiler, fryer, chicken meat, chicken piece, cornish hen, cooked chicken
turkey = turkey, turkey breast, ground turkey, turkey meat
beef = beef, ground beef, lean ground beef, ground chuck, ground round, chuck roast, beef chuck, sirloin, steak, flank steak, skirt steak, rib eye, ribeye, tenderloin, beef tenderloin, stew meat, beef stew meat, brisket, short rib, roast beef, top round, strip steak, beef roast, hamburger, corned beef, veal
pork = pork, pork chop, pork loin, pork tenderloin, pork shoulder, pork butt, ground pork, pork rib, spare rib, baby back rib, pork belly, pulled pork
bacon = bacon, bacon slice, thick-cut bacon, pancetta, turkey bacon
ham = ham, prosciutto, cooked ham, deli ham, smoked ham, ham hock, canadian bacon
sausage = sausage, italian sausage, sweet italian sausage, hot italian sausage, chorizo, andouille, kielbasa, bratwurst, breakfast sausage, pork sausage, smoked sausage, hot dog, frankfurter
salami = salami, pepperoni
lamb = lamb, ground lamb, lamb chop, leg of lamb, lamb shoulder, mutton
# --- fish and seafood
shrimp = shrimp, prawn, jumbo shrimp, large shrimp
salmon = salmon, salmon fillet, smoked salmon, lox
tuna = tuna, tuna steak, canned tuna, ahi tuna
white fish = fish, white fish, cod, tilapia, halibut, haddock, sea bass, snapper, catfish, fish fillet, sole, flounder, mahi mahi, swordfish, trout
scallops = scallop, sea scallop, bay scallop
crab = crab, crabmeat, crab meat, lump crab meat, lobster, lobster tail
mussels = mussel, clam, oyster
squid = squid, calamari, octopus
anchovies = anchovy, anchovy fillet, anchovy paste
# --- vegetables
onion = onion, yellow onion, white onion, sweet onion, vidalia onion, spanish onion, pearl onion, onion powder, dried onion, minced onion
red onion = red onion, purple onion
green onion = green onion, scallion, spring onion, salad onion, chive, chives
shallot = shallot
leek = leek
garlic = garlic, garlic clove, clove garlic, clove of garlic, garlic powder, granulated garlic, garlic paste, roasted garlic
ginger = ginger, fresh ginger, gingerroot, ginger root, ground ginger, ginger paste, crystallized ginger
tomato = tomato, plum tomato, roma tomato, cherry tomato, grape tomato, diced tomato, crushed tomato, whole tomato, stewed tomato, canned tomato, heirloom tomato, fire-roasted tomato, beefsteak tomato, tomatoes
tomato sauce = tomato sauce, marinara, marinara sauce, pasta sauce, spaghetti sauce, tomato puree, passata, pizza sauce
tomato paste = tomato paste
sun-dried tomato = sun-dried tomato, sun dried tomato, sundried tomato
potato = potato, russet potato, yukon gold potato, red potato, new potato, baby potato, fingerling potato, idaho potato, hash brown, mashed potato, potato flake, tater tot, french fry
sweet potato = sweet potato, yam
carrot = carrot, baby carrot
celery = celery, celery rib, celery stalk, stalk celery, rib celery
bell pepper = bell pepper, green bell pepper, red bell pepper, yellow bell pepper, orange bell pepper, sweet pepper, green pepper, red pepper, yellow pepper, capsicum, roasted red pepper, pimento, pimiento
chili pepper = chile, chili, chili pepper, chile pepper, jalapeno, jalapeño, jalapeno pepper, serrano, serrano pepper, habanero, green chile, green chili, red chile, red chili, thai chile, bird's eye chile, poblano, poblano pepper, anaheim pepper, chipotle, chipotle pepper, chipotle in adobo, hot pepper, fresno chile, banana pepper, pepperoncini, chilli
red pepper flakes = red pepper flake, crushed red pepper, crushed red pepper flake, chili flake, chile flake, pepper flake
cayenne = cayenne, cayenne pepper, ground red pepper
chili powder = chili powder, chile powder, ancho chile powder, chipotle powder
paprika = paprika, smoked paprika, sweet paprika, hot paprika
mushroom = mushroom, button mushroom, cremini, cremini mushroom, crimini mushroom, baby bella, portobello, portobello mushroom, shiitake, shiitake mushroom, oyster mushroom, porcini, chanterelle, white mushroom, wild mushroom, dried mushroom, enoki
spinach = spinach, baby spinach, spinach leaf, frozen spinach
kale = kale, lacinato kale, tuscan kale, collard green, collard, swiss chard, chard, mustard green, turnip green, dandelion green, beet green
lettuce = lettuce, romaine, romaine lettuce, iceberg lettuce, iceberg, butter lettuce, mixed greens, salad greens, baby greens, mesclun, spring mix, leaf lettuce, bibb lettuce, endive, radicchio, frisee, watercress
arugula = arugula, rocket, baby arugula
cabbage = cabbage, green cabbage, red cabbage, napa cabbage, savoy cabbage, coleslaw mix, sauerkraut, bok choy, pak choi, baby bok choy, kimchi
broccoli = broccoli, broccoli floret, broccolini, broccoli rabe, rapini
cauliflower = cauliflower, cauliflower floret
brussels sprouts = brussels sprout, brussel sprout
zucchini = zucchini, courgette, summer squash, yellow squash
squash = squash, butternut squash, acorn squash, spaghetti squash, winter squash, pumpkin, pumpkin puree, canned pumpkin, kabocha
eggplant = eggplant, aubergine, japanese eggplant
cucumber = cucumber, english cucumber, persian cucumber, pickle, dill pickle, gherkin, cornichon, pickle relish, relish
corn = corn, corn kernel, sweet corn, frozen corn, corn on the cob, ear of corn, creamed corn, baby corn, hominy
peas = pea, green pea, frozen pea, petit pois, snow pea, sugar snap pea, snap pea, mangetout
green beans = green bean, string bean, haricot vert, french bean, wax bean, runner bean
asparagus = asparagus, asparagus spear
artichoke = artichoke, artichoke heart
avocado = avocado, guacamole, hass avocado
beet = beet, beetroot
radish = radish, daikon, daikon radish
turnip = turnip, parsnip, rutabaga, celery root, celeriac
fennel = fennel, fennel bulb
okra = okra
olives = olive, black olive, kalamata olive, green olive, kalamata, pitted olive, olive tapenade
capers = caper
bean sprouts = bean sprout, sprout, alfalfa sprout, mung bean sprout
water chestnuts = water chestnut, bamboo shoot
seaweed = seaweed, nori, kombu, wakame, kelp
# --- legumes
black beans = black bean
kidney beans = kidney bean, red kidney bean, red bean
white beans = white bean, cannellini bean, cannellini, great northern bean, navy bean, butter bean, lima bean, fava bean, broad bean
pinto beans = pinto bean, refried bean, baked bean
chickpeas = chickpea, garbanzo, garbanzo bean, hummus
lentils = lentil, red lentil, green lentil, brown lentil, dal, split pea
edamame = edamame, soybean
tofu = tofu, firm tofu, extra firm tofu, silken tofu, tempeh, seitan
# --- grains, bread, pasta
rice = rice, white rice, long grain rice, long-grain rice, basmati rice, jasmine rice, brown rice, arborio rice, short grain rice, sushi rice, wild rice, cooked rice, instant rice, rice noodle, rice vermicelli
quinoa = quinoa, couscous, bulgur, bulgur wheat, farro, barley, pearl barley, millet
oats = oat, rolled oat, oatmeal, old-fashioned oat, quick oat, steel cut oat, quick-cooking oat, granola, muesli
pasta = pasta, spaghetti, macaroni, elbow macaroni, penne, linguine, fettuccine, fettuccini, rigatoni, fusilli, rotini, farfalle, bow tie pasta, orzo, ziti, angel hair, angel hair pasta, capellini, lasagna, lasagna noodle, lasagne, tortellini, ravioli, gnocchi, orecchiette, pappardelle, tagliatelle, shell pasta, pasta shell, bucatini, vermicelli, cavatappi, egg noodle, noodle, ramen, ramen noodle, udon, udon noodle, soba, soba noodle, lo mein, lo mein noodle, glass noodle, chow mein noodle
bread = bread, white bread, sandwich bread, french bread, italian bread, sourdough, sourdough bread, whole wheat bread, baguette, ciabatta, bread slice, loaf, brioche, challah, rye bread, bun, hamburger bun, hot dog bun, roll, dinner roll, hoagie roll, english muffin, bagel, croissant, biscuit, crouton, focaccia
breadcrumbs = breadcrumb, bread crumb, panko, panko bread crumb, dry bread crumb, fresh bread crumb, seasoned bread crumb, cracker crumb, graham cracker crumb, cracker, saltine, saltine cracker, graham cracker, ritz cracker, cornflake, crushed cornflake, cookie crumb
tortilla = tortilla, flour tortilla, corn tortilla, taco shell, wrap, tortilla chip, tostada, pita, pita bread, naan, flatbread, lavash
pizza dough = pizza dough, pizza crust, bread dough, dough, pie crust, pie shell, pastry, puff pastry, phyllo, filo, phyllo dough, pastry dough, shortcrust pastry, crescent roll, refrigerated crescent roll, biscuit dough, wonton wrapper, egg roll wrapper, dumpling wrapper, spring roll wrapper, rice paper
cake mix = cake mix, yellow cake mix, chocolate cake mix, white cake mix, brownie mix, pudding mix, instant pudding, muffin mix, biscuit mix, bisquick, pancake mix
# --- fruit
lemon = lemon, lemon zest, lemon peel, lemon wedge, lemon slice, meyer lemon, lemon rind
lemon juice = lemon juice, fresh lemon juice, juice of lemon
lime = lime, lime zest, lime wedge, lime peel, key lime
lime juice = lime juice, fresh lime juice, juice of lime
orange = orange, orange zest, orange peel, navel orange, blood orange, mandarin, mandarin orange, clementine, tangerine, satsuma, orange segment
orange juice = orange juice, fresh orange juice, juice of orange
apple = apple, granny smith apple, granny smith, gala apple, honeycrisp, fuji apple, golden delicious apple, applesauce, apple sauce
apple juice = apple juice, apple cider, cider
pear = pear, bosc pear, asian pear
banana = banana, ripe banana, plantain
strawberries = strawberry
blueberries = blueberry
berries = berry, raspberry, blackberry, boysenberry, mixed berry
cranberries = cranberry, dried cranberry, craisin, cranberry sauce
cherries = cherry, maraschino cherry, sour cherry
grapes = grape, red grape, green grape
raisins = raisin, golden raisin, currant, sultana
dates = date, medjool date, prune, dried plum
dried fruit = dried fruit, dried apricot, dried fig, candied fruit, dried cherry, mixed peel
peach = peach, nectarine, apricot, plum
mango = mango, papaya
pineapple = pineapple, pineapple chunk, crushed pineapple, pineapple tidbit
coconut = coconut, shredded coconut, flaked coconut, coconut flake, desiccated coconut, sweetened coconut, unsweetened coconut, coconut cream
coconut milk = coconut milk, light coconut milk, lite coconut milk
watermelon = watermelon, melon, cantaloupe, honeydew
kiwi = kiwi, kiwifruit
pomegranate = pomegranate, pomegranate seed, pomegranate aril
fig = fig, fresh fig
rhubarb = rhubarb
# --- nuts and seeds
almonds = almond, sliced almond, slivered almond, blanched almond, ground almond, almond flour, almond meal
walnuts = walnut, walnut half, walnut piece
pecans = pecan, pecan half
peanuts = peanut, roasted peanut, dry roasted peanut
peanut butter = peanut butter, creamy peanut butter, chunky peanut butter, almond butter, nut butter
cashews = cashew
pine nuts = pine nut, pignoli
nuts = nut, pistachio, hazelnut, filbert, macadamia nut, macadamia, brazil nut, nut, mixed nut, chopped nut
sesame seeds = sesame seed, white sesame seed, black sesame seed, toasted sesame seed
tahini = tahini, sesame paste
seeds = seed, sunflower seed, pumpkin seed, pepita, chia seed, flax seed, flaxseed, ground flaxseed, poppy seed, hemp seed
# --- herbs
parsley = parsley, flat-leaf parsley, italian parsley, flat leaf parsley, curly parsley, parsley leaf, dried parsley, parsley flake
cilantro = cilantro, coriander leaf, fresh coriander, cilantro leaf, cilantro sprig
basil = basil, basil leaf, sweet basil, thai basil, dried basil
mint = mint, mint leaf, spearmint, peppermint
dill = dill, dill weed, fresh dill, dried dill
rosemary = rosemary, rosemary sprig, dried rosemary
thyme = thyme, thyme sprig, fresh thyme, dried thyme, thyme leaf
oregano = oregano, dried oregano, fresh oregano, marjoram
sage = sage, sage leaf, dried sage, rubbed sage
tarragon = tarragon, chervil
bay leaf = bay leaf, bay
lemongrass = lemongrass, lemon grass, kaffir lime leaf, lime leaf
italian seasoning = italian seasoning, herbes de provence, mixed herb, dried herb, poultry seasoning, herb
# --- spices
cinnamon = cinnamon, ground cinnamon, cinnamon stick
nutmeg = nutmeg, ground nutmeg, mace
cloves = clove, ground clove, whole clove
allspice = allspice, ground allspice, pumpkin pie spice, apple pie spice, mixed spice
cumin = cumin, ground cumin, cumin seed
coriander = coriander, ground coriander, coriander seed
turmeric = turmeric, ground turmeric
curry powder = curry powder, curry, garam masala, curry paste, red curry paste, green curry paste, yellow curry paste, tandoori masala, curry leaf
cardamom = cardamom, cardamom pod, green cardamom
star anise = star anise, anise, aniseed, anise seed, fennel seed, five spice, chinese five spice, five-spice powder
mustard seed = mustard seed, mustard powder, dry mustard, ground mustard
saffron = saffron, saffron thread
seasoning mix = seasoning, seasoning mix, taco seasoning, cajun seasoning, creole seasoning, old bay, old bay seasoning, steak seasoning, ranch dressing mix, onion soup mix, jerk seasoning, adobo seasoning, sazon, za'atar, zaatar, sumac, ras el hanout, spice rub, dry rub, bbq rub, lemon pepper
# --- sauces, condiments, liquids
soy sauce = soy sauce, low sodium soy sauce, light soy sauce, dark soy sauce, tamari, shoyu, coconut aminos
fish sauce = fish sauce, oyster sauce, hoisin sauce, hoisin
worcestershire sauce = worcestershire sauce, worcestershire
hot sauce = hot sauce, sriracha, tabasco, chili sauce, sweet chili sauce, chili garlic sauce, sambal oelek, sambal, harissa, gochujang, hot pepper sauce, buffalo sauce, red pepper sauce
ketchup = ketchup, catsup
barbecue sauce = barbecue sauce, bbq sauce
mustard = mustard, dijon mustard, dijon, yellow mustard, whole grain mustard, stone-ground mustard, spicy brown mustard, honey mustard
mayonnaise = mayonnaise, mayo, light mayonnaise, aioli, miracle whip
salsa = salsa, pico de gallo, salsa verde, enchilada sauce, taco sauce
pesto = pesto, basil pesto
vinegar = vinegar, white vinegar, distilled vinegar, cider vinegar, apple cider vinegar, white wine vinegar, red wine vinegar, sherry vinegar, champagne vinegar, malt vinegar
balsamic vinegar = balsamic vinegar, balsamic, balsamic glaze, balsamic reduction
rice vinegar = rice vinegar, rice wine vinegar, seasoned rice vinegar
salad dressing = salad dressing, dressing, italian dressing, ranch dressing, vinaigrette, caesar dressing, blue cheese dressing, thousand island dressing
chicken broth = chicken broth, chicken stock, low sodium chicken broth, chicken bouillon, chicken bouillon cube, chicken base, bouillon, bouillon cube, bouillon granule
vegetable broth = vegetable broth, vegetable stock, broth, stock
beef broth = beef broth, beef stock, beef bouillon, beef consomme, consomme
cream soup = cream of mushroom soup, cream of chicken soup, cream of celery soup, condensed soup, condensed cream of mushroom soup, soup
wine = wine, white wine, dry white wine, red wine, dry red wine, sherry, dry sherry, marsala, marsala wine, port, vermouth, sake, mirin, rice wine, shaoxing wine, cooking wine
beer = beer, lager, ale, stout, dark beer
liquor = rum, dark rum, white rum, vodka, brandy, cognac, bourbon, whiskey, whisky, tequila, gin, liqueur, triple sec, cointreau, grand marnier, kahlua, amaretto, coffee liqueur, orange liqueur, kirsch, schnapps
coffee = coffee, espresso, brewed coffee, instant coffee, instant espresso, espresso powder, coffee granule
tea = tea, green tea, black tea, tea bag, matcha, chai
juice = juice, cranberry juice, pineapple juice, grape juice, tomato juice, vegetable juice, pomegranate juice, fruit juice
soda = soda, cola, ginger ale, lemon-lime soda, sprite, lemonade, ginger beer, tonic water, tonic
jam = jam, jelly, preserves, fruit preserve, apricot jam, raspberry jam, strawberry jam, marmalade, orange marmalade, apricot preserve, fruit spread, lemon curd
nutella = nutella, chocolate hazelnut spread
marshmallow = marshmallow, mini marshmallow, marshmallow creme, marshmallow fluff
sprinkles = sprinkle, nonpareil, colored sugar, sanding sugar, decorating sugar, candy, candy melt, chocolate candy, toffee, caramel, caramel sauce, butterscotch chip, peanut butter chip, candy cane
cookies = cookie, oreo, sandwich cookie, chocolate wafer, vanilla wafer, gingersnap, shortbread, ladyfinger, biscotti, amaretti
frosting = frosting, icing, buttercream, glaze, fondant, ganache
"""

# Words for quantities and containers: removed before naming an unknown ingredient.
UNITS = set("""
cup c tablespoon tbsp tbs tbl tb tbsps teaspoon tsp ts tsps t oz ounce lb pound g gr gram kg kilo kilogram mg
ml milliliter millilitre cl dl l liter litre quart qt pint pt gallon gal fl fluid
can tin jar package pkg packet envelope box bag bottle container carton tub stick slice piece
head bunch sprig stalk rib handful pinch dash drop splash drizzle scoop sheet strip wedge cube
inch in cm mm dozen serving portion link loaf ear knob chunk fillet filet clove
large medium small big little extra jumbo mini whole half quarter third
""".split())

# Preparation and state words: removed before naming an unknown ingredient.
PREPARATION = set("""
chopped diced minced sliced grated shredded peeled crushed cubed halved quartered julienned
trimmed seeded cored pitted rinsed drained washed stemmed deveined shelled shucked zested juiced
beaten whisked melted softened thawed frozen cooked uncooked boiled roasted toasted grilled fried
steamed blanched mashed pureed crumbled torn cut chop dice mince slice grate shred peel crush
divided separated packed sifted scalded warmed chilled cooled heated squeezed cracked ground
finely coarsely thinly thickly roughly lightly firmly loosely freshly well very about approximately
plus more less optional garnish serving taste needed desired room temperature reserved prepared
refrigerated canned jarred bottled store-bought homemade leftover day-old stale
""".split())

# Descriptors that qualify but never name an ingredient.
DESCRIPTORS = set("""
fresh dried dry raw ripe firm soft hard sweet unsweetened sweetened salted unsalted low-fat lowfat fat-free
nonfat reduced-fat reduced-sodium low-sodium light lite lean extra-lean boneless skinless bone-in skin-on
organic natural pure plain good quality high-quality best favorite regular instant quick-cooking
hot cold warm lukewarm boiling heavy thin thick fine coarse smooth chunky creamy crunchy
seedless pitted shelled unshelled blanched toasted roasted raw whole-wheat whole-grain multigrain
cooked uncooked large medium small mini baby young mature
""".split())

STOPWORDS = set("""
a an the of and or to for with without from into in on at by as if each per any some other such
your you our it its into then than your additional extra few several few
""".split())
