"""Generates the multi-label demo: support tickets tagged with 1-3 topics."""
from __future__ import annotations

import random
import re

from core.demo.common import (SPLITS, UNSEEN_RATE, Pool, capitalise, hold_out, lines,
                              require, split_counts)
from core.demo.text import add_typos, fill, pools, tidy
from core.demo.words_misc import WEEKDAYS
from core.records import TextExample

TICKET_LABELS = ("billing", "technical", "account", "shipping", "urgent")

_TICKET_CLAUSES = {
    "billing": lines("""
i was charged twice for my {plan} subscription
my invoice {invoice} shows the wrong amount
i need a refund of {amount}
the payment for order {order} failed but the money was still charged to my card
why did my monthly fee go up to {amount}
you charged me after i cancelled the {plan} plan
the discount code was not applied to my bill
i can't download the invoice {invoice}
please explain the extra charge of {amount} on my bill
my card payment was declined although it has funds
i'm still waiting for the refund for invoice {invoice}
the bill for the {plan} plan is higher than the price you advertised
i want a refund for the duplicate payment of {amount}
your invoice {invoice} charges tax twice
"""),
    "technical": lines("""
the app crashes whenever i open {feature}
i get error {code} when i try to {action}
the website won't load on my {device}
{feature} has been broken since the last app update
the app freezes when i {action}
notifications stopped working in the app on my {device}
sync between my {device} and the web app fails with error {code}
the {feature} button does nothing , it looks like a bug
the app is extremely slow on my {device}
i keep getting a blank screen with error {code} in {feature}
there is a bug in {feature} that crashes the page
the website shows error {code} every time i {action}
after the update the app crashes on my {device}
"""),
    "account": lines("""
i can't log into my account
please change the email on my account profile to {email}
i want to delete my account
my account username was changed without my permission
how do i add a second user to my account
i never received the account verification email for {email}
please merge my two accounts
my account profile shows someone else's name
i need to update the phone number on my account
two-factor login keeps rejecting my code and i'm locked out of my account
my account password reset email never arrives at {email}
please transfer my account to the email {email}
someone else may have accessed my account
"""),
    "shipping": lines("""
my package for order {order} hasn't arrived after {days} days
the tracking number {tracking} doesn't work
the courier left my parcel at the wrong address
i need to change the delivery date for order {order}
the package arrived damaged
only half of order {order} was delivered
delivery was promised for {weekday} but my parcel never came
can you ship order {order} to a different delivery address
the parcel for order {order} has been stuck in customs for {days} days
i received someone else's package instead of order {order}
the courier says order {order} was delivered but i have no parcel
tracking for my package {tracking} has not updated in {days} days
my delivery for order {order} is late
"""),
    "urgent": lines("""
this is urgent
please help asap
i need this fixed today , it's urgent
it's an emergency , my business depends on it
please respond immediately
this is the third time i am writing , please hurry , it's urgent
we have a deadline tomorrow , please help asap
i need an answer within the hour , urgent
urgent : please fix this immediately
this cannot wait , i need help today
"""),
}

_TICKET_FILLERS = {
    "plan": ("basic", "pro", "family", "premium", "annual", "team", "starter"),
    "invoice": ("INV-2041", "INV-3377", "INV-1180", "INV-9052", "INV-4613", "INV-7719"),
    "amount": ("$19.99", "$49", "€120", "£35", "$240", "€9.50", "$75"),
    "order": ("#10452", "#88213", "#50977", "#31008", "#74620", "#26935", "#61184"),
    "feature": ("the dashboard", "settings", "the calendar", "reports", "the inbox",
                "search", "the export page", "checkout"),
    "code": ("500", "E-204", "403", "X17", "0x80", "timeout-9", "502"),
    "action": ("upload a file", "save my changes", "export a report", "pay",
               "open an attachment", "log out", "print"),
    "device": ("iphone", "android phone", "laptop", "tablet", "mac", "windows pc",
               "chromebook"),
    "email": ("anna@example.com", "j.doe@example.org", "omar.h@example.net",
              "li.wei@example.com", "sam@example.org", "kofi@example.net"),
    "days": ("five", "10", "three", "two weeks of", "12", "eight"),
    "tracking": ("TRK4410982", "ZX-55102", "1Z999A10", "TRK0071234", "PK-33019"),
    "weekday": WEEKDAYS,
}

_OPENERS = ("", "", "Hi,", "Hello,", "Hello team,", "Dear support,", "Hey,", "Good morning,")
_JOINERS = (". ", ". Also, ", ". On top of that, ", " and ", ". Another thing: ", ". Plus ")
_CLOSERS = ("", "", "", "Thanks.", "Regards.", "Thank you!", "Cheers.")


def _ticket_labels(rng: random.Random) -> tuple[str, ...]:
    """1-3 labels in TICKET_LABELS order; 'urgent' only together with a topic."""
    k = rng.choices((1, 2, 3), (0.5, 0.35, 0.15))[0]
    topics = list(TICKET_LABELS[:-1])
    if k >= 2 and rng.random() < 0.4:
        chosen = set(rng.sample(topics, k - 1)) | {"urgent"}
    else:
        chosen = set(rng.sample(topics, k))
    return tuple(label for label in TICKET_LABELS if label in chosen)


def _write_ticket(rng: random.Random, labels: tuple[str, ...], clauses: dict[str, Pool],
                  fillers: dict[str, Pool], unseen: float) -> str:
    """A ticket with one clause per label, topics in random order and urgency first or last."""
    topics = [label for label in labels if label != "urgent"]
    rng.shuffle(topics)
    parts = [fill(rng, clauses[t].draw(rng, unseen), fillers, unseen) for t in topics]
    body = parts[0]
    for part in parts[1:]:
        body += rng.choice(_JOINERS) + part
    body = capitalise(body) + "."
    if "urgent" in labels:
        urgency = capitalise(clauses["urgent"].draw(rng, unseen)) + "!"
        body = f"{urgency} {body}" if rng.random() < 0.5 else f"{body} {urgency}"
    text = tidy(f"{rng.choice(_OPENERS)} {body} {rng.choice(_CLOSERS)}")
    text = re.sub(r"\bi\b", "I", text)
    # sentence case: upper after a full stop, lower after the opener's comma
    text = re.sub(r"([.!?]) ([a-z])", lambda m: f"{m.group(1)} {m.group(2).upper()}", text)
    text = re.sub(r"^(\w+(?: \w+)?), ([A-Z])([a-z])",
                  lambda m: f"{m.group(1)}, {m.group(2).lower()}{m.group(3)}", text)
    return add_typos(rng, text, 0.02)


def make_multilabel_demo(*, seed: int = 0, n_examples: int = 1500) -> dict[str, list[TextExample]]:
    """Support tickets tagged with 1-3 of billing/technical/account/shipping/urgent, 80/10/10."""
    require("n_examples", n_examples, 30, "so that every split gets examples")
    rng = random.Random(seed)
    clauses = {label: hold_out(rng, _TICKET_CLAUSES[label]) for label in TICKET_LABELS}
    fillers = pools(rng, _TICKET_FILLERS)
    out: dict[str, list[TextExample]] = {}
    for split, k in zip(SPLITS, split_counts(n_examples)):
        unseen = 0.0 if split == "train" else UNSEEN_RATE
        examples = []
        for _ in range(k):
            labels = _ticket_labels(rng)
            examples.append(TextExample(_write_ticket(rng, labels, clauses, fillers, unseen),
                                        labels))
        out[split] = examples
    return out
