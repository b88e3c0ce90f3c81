"""Word lists and templates for the recommendation demo: ten topics, item titles, descriptions.

Every phrase here is written for this project. Each topic names its pursuit (`activity`),
things in it (`noun`), modifiers (`adj`), what a piece of content about it may cover
(`detail`) and who it is for (`people`). Templates use {slot} for a topic word, {slot2} for
the item's second topic, and {a_slot} for the word with its indefinite article.
"""
from __future__ import annotations

from core.demo.common import lines

TOPICS: dict[str, dict[str, tuple[str, ...]]] = {
    "hiking": {
        "activity": lines("""
hiking
hillwalking
trekking
long-distance walking
wild camping
ridge walking
"""),
        "noun": lines("""
trail
summit
ridge
backpack
pair of walking boots
mountain hut
switchback
trailhead
waterfall
canyon
day pack
glacier
mountain pass
"""),
        "adj": lines("""
alpine
rugged
misty
high-altitude
remote
coastal
windswept
wild
"""),
        "detail": lines("""
how to read contour lines
packing a light day pack
choosing boots that do not blister
a three-day route between mountain huts
staying safe when the cloud comes down
the best trails above the tree line
planning water stops on a long walk
layering clothes for changing weather
walking poles and when to use them
a loop past two glacial lakes
"""),
        "people": ("hikers", "hillwalkers", "trekkers"),
    },
    "baking": {
        "activity": lines("""
baking
sourdough baking
bread making
pastry making
cake decorating
home baking
"""),
        "noun": lines("""
sourdough loaf
croissant
layer cake
rye bread
pie crust
cinnamon roll
proving basket
bread starter
baguette
fruit tart
stand mixer
oven thermometer
brioche
"""),
        "adj": lines("""
crusty
flaky
buttery
golden
rustic
fluffy
gluten-free
overnight
"""),
        "detail": lines("""
feeding a starter
shaping a tight loaf
laminating dough for croissants
why a cake sinks in the middle
how hydration changes the crumb
scoring bread before it goes in the oven
a buttercream that holds its shape
blind baking a pastry case
swapping butter for oil
proving dough in a cold kitchen
"""),
        "people": ("bakers", "home bakers", "pastry lovers"),
    },
    "jazz": {
        "activity": lines("""
jazz
bebop
jazz piano
big band music
jazz improvisation
swing
"""),
        "noun": lines("""
saxophone solo
double bass
trumpet
jazz standard
quartet
piano trio
jam session
vinyl record
walking bass line
drum brush
jazz club
chord chart
horn section
"""),
        "adj": lines("""
smoky
late-night
cool
modal
swinging
soulful
improvised
brassy
"""),
        "detail": lines("""
how a walking bass line works
the story behind a famous quartet
learning to improvise over a blues
the records that defined bebop
listening for the ride cymbal
voicing chords on the piano
a night in a basement club
trading fours with a drummer
how big bands were arranged
modal playing explained
"""),
        "people": ("jazz fans", "jazz musicians", "record collectors"),
    },
    "sci-fi": {
        "activity": lines("""
science fiction
space opera
cyberpunk
time travel fiction
hard science fiction
first contact stories
"""),
        "noun": lines("""
starship
android
space station
alien empire
time machine
colony ship
robot uprising
wormhole
dystopian city
galactic war
generation ship
lunar base
space pirate
"""),
        "adj": lines("""
interstellar
dystopian
futuristic
cosmic
far-future
post-human
galactic
robotic
"""),
        "detail": lines("""
the physics behind faster-than-light travel
what makes a believable alien
novels about the first colony on Mars
how cyberpunk imagined the internet
a crew lost beyond the edge of the map
artificial minds that want to be free
paradoxes in time travel plots
building a future society from scratch
the best space battles on the page
life aboard a ship that takes centuries to arrive
"""),
        "people": ("sci-fi readers", "science fiction fans", "space opera fans"),
    },
    "gardening": {
        "activity": lines("""
gardening
vegetable growing
composting
container gardening
organic gardening
pruning
"""),
        "noun": lines("""
raised bed
compost heap
greenhouse
tomato plant
herb garden
rose bush
seed tray
allotment
watering can
flower border
fruit tree
potting shed
hedge
"""),
        "adj": lines("""
leafy
blooming
organic
shady
drought-proof
wildlife-friendly
overgrown
seasonal
"""),
        "detail": lines("""
when to sow tomatoes indoors
turning kitchen scraps into compost
pruning roses in late winter
growing herbs on a windowsill
keeping slugs off young plants
planning a border that flowers all year
saving seeds from your own crop
watering less in a dry summer
attracting bees and butterflies
building a raised bed from old timber
"""),
        "people": ("gardeners", "allotment holders", "green-fingered readers"),
    },
    "football": {
        "activity": lines("""
football
five-a-side
goalkeeping
football tactics
youth football
football scouting
"""),
        "noun": lines("""
striker
penalty kick
midfield
derby match
transfer window
league table
goalkeeper
free kick
cup final
back four
training ground
stadium
corner kick
"""),
        "adj": lines("""
attacking
defensive
last-minute
high-pressing
title-winning
relegation-threatened
away
counter-attacking
"""),
        "detail": lines("""
how a high press wins the ball back
the greatest cup final comebacks
what scouts look for in a young striker
why teams switch to a back three
taking a penalty under pressure
a season with a club fighting relegation
training drills for a better first touch
how the transfer window really works
the role of a holding midfielder
reading the game as a goalkeeper
"""),
        "people": ("football fans", "coaches", "supporters"),
    },
    "photography": {
        "activity": lines("""
photography
street photography
portrait photography
film photography
night photography
wildlife photography
"""),
        "noun": lines("""
camera lens
tripod
darkroom
shutter speed
prime lens
light meter
portrait
long exposure
film roll
camera bag
aperture
viewfinder
golden hour shot
"""),
        "adj": lines("""
grainy
wide-angle
black-and-white
candid
sharp
moody
high-contrast
analogue
"""),
        "detail": lines("""
choosing an aperture for portraits
shooting the city after dark
developing film at home
composing with the rule of thirds
getting sharp shots without a tripod
catching light at golden hour
editing colour without overdoing it
photographing birds from a hide
why a prime lens makes you move
metering for snow and bright sand
"""),
        "people": ("photographers", "camera owners", "film shooters"),
    },
    "finance": {
        "activity": lines("""
personal finance
investing
budgeting
saving for retirement
index fund investing
debt repayment
"""),
        "noun": lines("""
pension
index fund
household budget
savings account
stock portfolio
credit score
emergency fund
mortgage rate
dividend
tax return
interest rate
bond
spending plan
"""),
        "adj": lines("""
frugal
long-term
low-cost
tax-free
diversified
debt-free
compound
monthly
"""),
        "detail": lines("""
building an emergency fund
why low fees matter over thirty years
paying off a credit card faster
how compound interest grows a pension
splitting a budget into needs and wants
what a bond actually is
rebalancing a portfolio once a year
improving a credit score
the case for index funds
planning a first tax return
"""),
        "people": ("savers", "investors", "first-time buyers"),
    },
    "travel": {
        "activity": lines("""
travel
rail travel
solo travel
city breaks
island hopping
budget travel
"""),
        "noun": lines("""
night train
passport
hostel
weekend city break
island ferry
boarding pass
old town
market square
road trip
travel itinerary
carry-on bag
harbour
guesthouse
"""),
        "adj": lines("""
off-season
budget
last-minute
overnight
far-flung
sunny
slow
backpacker
"""),
        "detail": lines("""
crossing a continent by train
packing everything into a carry-on bag
finding cheap flights out of season
a week hopping between islands by ferry
eating well in a new city on little money
staying in family-run guesthouses
planning a road trip along the coast
what to do on a long layover
travelling alone for the first time
getting around an old town on foot
"""),
        "people": ("travellers", "backpackers", "tourists"),
    },
    "board games": {
        "activity": lines("""
board gaming
strategy games
deck building
cooperative games
tabletop gaming
party games
"""),
        "noun": lines("""
game board
dice tower
card deck
meeple
game night
expansion pack
rulebook
worker placement game
miniature
scoring track
trading game
puzzle game
game box
"""),
        "adj": lines("""
cooperative
competitive
two-player
family-friendly
tactical
heavy
quick-playing
cutthroat
"""),
        "detail": lines("""
teaching a complex game in ten minutes
the best games for two players
how deck building changed the hobby
hosting a game night for new players
painting miniatures for the first time
games that work with six or more people
storing cards and tokens neatly
why cooperative games end fewer friendships
house rules worth trying
a strategy game that plays in under an hour
"""),
        "people": ("board gamers", "tabletop players", "game night hosts"),
    },
}

# slots every item may use, whatever its topic
GENERIC: dict[str, tuple[str, ...]] = {
    "kind": lines("""
article
video
podcast episode
guide
course
review
book
documentary
newsletter
live stream
interview
tutorial
"""),
    "length": lines("""
short
long
quick
in-depth
half-hour
hands-on
friendly
thorough
"""),
    "number": ("five", "seven", "ten", "twelve", "three", "twenty", "six", "eight"),
}

# titles end without punctuation: a row's candidate text is title + ". " + description
TITLES = lines("""
{activity} for beginners
the {adj} {noun}
{number} lessons for {people}
how to choose {a_noun}
a weekend of {activity}
notes from the {noun}
inside the world of {activity}
{activity} on a budget
why I fell for {activity}
the {adj} guide to {activity}
{number} minutes of {activity}
everything about the {noun}
getting started with {activity}
my {adj} {noun}
common mistakes in {activity}
{activity}, explained
the {noun} question
life after the {noun}
what {people} get wrong about the {noun}
{adj} {activity} in {number} steps
""")

PAIR_TITLES = lines("""
{activity} meets {activity2}
where {activity} and {activity2} cross
the {noun} and the {noun2}
{activity} for {people2}
{a_adj} {noun} for {people2}
what {activity2} taught me about {activity}
""")

DESCRIPTIONS = lines("""
{a_length} {kind} on {activity}, covering {detail}.
{a_kind} for {people} about {detail}.
in this {kind}: {detail}, and more.
{a_kind} that walks through {detail}.
{a_length} {kind} about {detail}.
a practical look at {detail}, for {people}.
everything about {detail}, in one {length} {kind}.
{a_length} {kind} with {number} ideas on {detail}.
this week's {kind} on {activity}: {detail}.
{people} share what they learnt about {detail}.
""")

PAIR_DESCRIPTIONS = lines("""
{a_kind} mixing {activity} and {activity2}, covering {detail} and {detail2}.
{a_length} {kind} for {people} who also love {activity2}: {detail}.
{detail}, with a detour into {detail2}.
{a_kind} on {activity} for {people2}, covering {detail}.
""")
