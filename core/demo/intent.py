"""Generates the intent demo: banking customer-service messages in 10 intents."""
from __future__ import annotations

import random

from core.demo.common import capitalise, lines, require
from core.demo.text import add_typos, make_single_label, pools, tidy
from core.records import TextExample

_INTENTS = {
    "check_balance": lines("""
what is my {acct} balance
how much money do i have in my {acct} account
show me the balance of my {acct} account
can you tell me my current balance
balance on my {acct} please
i need to know how much money is left in my {acct} account
how much is on the account ending in {digits}
did my salary arrive , what's my balance now
am i overdrawn on my {acct} account
what's the available balance on my {card}
how much money can i still spend this month
check my balance
is there enough money in my {acct} account to pay {amount}
what funds do i have right now
tell me how much money is in {acct}
what's left in my account after the last payment
my balance looks low , can you check it
give me the current balance for account {digits}
"""),
    "card_lost": lines("""
i lost my {card}
my {card} was stolen {when}
i can't find my {card} anywhere
someone stole my wallet with my {card} in it
please block my {card} , it's missing
freeze my {card} right now , i lost it
i think i left my {card} at the {venue} and now it's lost
i need a replacement {card} because mine was stolen
how do i report a stolen card
my purse was stolen {when} with all my cards
the atm kept my {card} and i need it blocked
there are payments i didn't make , my {card} must be stolen
block my {card} , i lost it somewhere {when}
my {card} is missing
i've lost my {card} , what should i do
report my {card} as lost please
my {card} went missing at the {venue}
"""),
    "transfer_money": lines("""
send {amount} to {person}
transfer {amount} from my {acct} to my {acct} account
i want to wire {amount} to {person}
how do i send money to {person}
pay {person} {amount}
make a transfer of {amount} to account {digits}
can i send money abroad to {country}
transfer {amount} into my {acct} account
i need to send my rent of {amount} to my landlord
set up a monthly transfer of {amount} to {person}
how long does an international transfer to {country} take
please send {person} {amount} {when}
split the bill and send {amount} to {person}
i'd like to transfer money to {person}
wire {amount} to account {digits} please
can you transfer {amount} to {country} for me
"""),
    "change_address": lines("""
i moved to {street} , please change my address
update my address to {street} , {city}
i have a new home address
change the address on my account
please send my statements to my new address at {street}
we moved to {city} , how do i update my address
my address is wrong on your records
how can i change the address where you send my {card}
new address : {street} , {city}
i'm moving to {city} next month , what address details do i need to update
correct my postal address please
can i update my address in the app
i need to change my address to {street}
please record my new address in {city}
my address changed , it's now {street}
"""),
    "open_account": lines("""
i'd like to open a {acct} account
how do i sign up for a new {acct} account
can my {relative} open an account here
what do i need to open an account
open a {acct} account for me
i want to open a new account with you
open a joint account with my {relative}
can i open an account online
what documents are required to open a {acct} account
is there a {acct} account for students i can open
i'm new in {city} and want to open an account
set me up with a new {acct} account
how long does it take to open a {acct} account
i want to become a customer and open an account
"""),
    "close_account": lines("""
close my {acct} account
i want to cancel my account
how do i close my {acct} account
please close my account and cancel my membership
i'm leaving your bank , close everything
cancel my {acct} account
i no longer need my {acct} account , please close it
what happens to my money if i close the account
close my account and send the rest to {person}
i want to stop banking with you and close my account
how can i close the account of my late {relative}
shut down my {acct} account please
i'd like to cancel and close my {acct} account today
"""),
    "complaint": lines("""
i am very unhappy with your {grievance}
your {grievance} is terrible
i've been waiting {duration} and nobody helped , this is terrible service
this is the worst service i have ever had
i want to file a complaint about your {grievance}
the staff at the {city} branch were rude , i want to complain
why is your {grievance} so bad
i'm disappointed , your {grievance} has not improved
nobody answered my emails for {duration} , terrible service
i'm fed up with the {grievance}
you charged me a fee i never agreed to and i want to complain
i want to speak to a manager about the {grievance}
i'd like to make a complaint
your {grievance} is awful and i am unhappy
i'm not happy with the service at the {city} branch
"""),
    "greeting": lines("""
hello
hi there
good {tod}
hey , anyone there ?
hello , my name is {person}
good {tod} , hope you're well
hello there
hiya
hey
hi , {person} here
good {tod} to you
hello again
hi , how are you
hey there , good {tod}
hello , is anyone there
"""),
    "loan_inquiry": lines("""
what are your {loan} rates
can i get a {loan} for {amount}
how much can i borrow for a {loan}
am i eligible for a {loan}
what's the interest rate on a {loan}
i'm thinking of buying a {purchase} , can i get a loan
how long does {loan} approval take
i'd like to apply for a {loan}
what would the monthly payment be on a {loan} of {amount}
do you offer loans to self-employed people
can i borrow {amount} over {years} years
is a {loan} cheaper with you than elsewhere
i need a loan to buy a {purchase}
what interest would i pay to borrow {amount}
tell me about your {loan} options
"""),
    "reset_password": lines("""
i forgot my password
i can't log in to the app , i need to reset my password
reset my pin
i'm locked out of online banking , help me reset my password
my password isn't working
how do i change my login password
the app says my password is wrong
i need a new pin for my {card}
can't log in after updating my phone
send me a password reset link
my account got locked after too many wrong passwords
i forgot the pin for my {card}
please reset my online banking password
how do i reset my password
"""),
}

_INTENT_WEIGHTS = {"check_balance": 1.2, "card_lost": 1.0, "transfer_money": 1.2,
                   "change_address": 0.9, "open_account": 1.0, "close_account": 0.8,
                   "complaint": 1.0, "greeting": 0.7, "loan_inquiry": 1.0,
                   "reset_password": 0.9}

_INTENT_FILLERS = {
    "acct": ("savings", "checking", "current", "business", "joint", "student", "isa",
             "premium", "travel", "everyday"),
    "card": ("debit card", "credit card", "visa card", "bank card", "card", "mastercard",
             "business card", "contactless card", "gold card"),
    "when": ("yesterday", "this morning", "last night", "on the train", "an hour ago",
             "at the weekend", "today", "on holiday", "last week"),
    "venue": ("restaurant", "supermarket", "gym", "airport", "hotel", "cinema", "bar",
              "petrol station", "office"),
    "digits": tuple(f"{n:04d}" for n in (1234, 4821, 7730, 9102, 5566, 3048, 6617, 2290,
                                          8473, 1905)),
    "amount": ("$50", "100 dollars", "£200", "250 euros", "$1,000", "500", "£75", "$20",
               "3000 dollars", "€40", "fifty pounds", "$12.50"),
    "person": ("John", "my mom", "my landlord", "Maria", "Ahmed", "my brother", "Li Wei",
               "Priya", "my friend", "Tom Baker", "Sofia", "my sister", "Kofi", "Anna"),
    "country": ("Spain", "India", "Canada", "Kenya", "Mexico", "Japan", "Poland", "Brazil",
                "Australia", "Germany"),
    "street": ("12 Oak Street", "4 Mill Lane", "77 River Road", "9 Station Avenue",
               "210 High Street", "5 Park Close", "31 Elm Drive", "18 Church Walk",
               "46 Harbour View", "3 Meadow Way"),
    "city": ("Leeds", "Boston", "Toronto", "Dublin", "Glasgow", "Denver", "Perth", "Austin",
             "Bristol", "Lyon"),
    "relative": ("son", "daughter", "wife", "husband", "partner", "father", "mother",
                 "grandson", "niece"),
    "grievance": ("app", "customer service", "call centre", "website", "branch staff",
                  "overdraft fee", "phone line", "online banking", "refund process",
                  "chat bot", "support team", "mobile app"),
    "duration": ("two weeks", "three days", "an hour", "a month", "45 minutes", "ten days",
                 "all morning", "since monday"),
    "tod": ("morning", "afternoon", "evening", "day"),
    "loan": ("mortgage", "car loan", "personal loan", "student loan", "home loan",
             "business loan", "loan", "bridging loan", "credit line"),
    "purchase": ("car", "house", "flat", "boat", "new kitchen", "motorbike", "van"),
    "years": ("two", "three", "5", "10", "25", "seven"),
}

_PREFIXES = ("", "", "", "", "hi ,", "hello ,", "hey", "excuse me ,", "quick question :",
             "um", "please", "sorry to bother you but", "good morning ,", "hi team ,",
             "so", "ok")
_SUFFIXES = ("", "", "", "", "please", "thanks", "thank you", "asap", "?", "!", "thx",
             "cheers", "thanks in advance")


def _style_chat(rng: random.Random, text: str) -> str:
    """A chat message: optional greeting/politeness, typos, varied casing and punctuation."""
    text = f"{rng.choice(_PREFIXES)} {text} {rng.choice(_SUFFIXES)}"
    text = add_typos(rng, tidy(text), 0.05)
    casing = rng.random()
    if casing < 0.3:
        text = capitalise(text)
    elif casing < 0.37:
        text = text.upper()
    elif casing < 0.45:
        text = " ".join(capitalise(w) for w in text.split(" "))
    return text


def make_intent_demo(*, seed: int = 0, n_examples: int = 2000) -> dict[str, list[TextExample]]:
    """Banking customer-service messages labelled with one of 10 intents, stratified 80/10/10.

    A fifth of each intent's templates and slot fillers never occur in train.
    """
    require("n_examples", n_examples, 10 * len(_INTENTS),
            "so that every intent appears in every split")
    rng = random.Random(seed)
    fillers = pools(rng, _INTENT_FILLERS)
    return make_single_label(rng, n_examples, _INTENT_WEIGHTS, _INTENTS, fillers, _style_chat)
