"""Generate Northwind's feedback-triage splits: ``python datasets/feedback/generate.py``.

Writes ``train.jsonl``, ``val.jsonl`` and ``test.jsonl`` next to this file. Each line is one customer
message with its labels (``product``, ``topic``, ``sentiment``, see ``utils/finetune/triage.py``), its ``source``
(``generated`` or ``handwritten``) and the ``parts`` it was assembled from.

How test phrasings are kept out of training (see README.md): every pool of phrasings below
(greetings, intros, complaint/praise/question bodies, softeners, sign-offs, ...) is split into
train / val / test pieces *before* any message is assembled, and a split's messages are built only from
its own pieces. Only the product names (the taxonomy itself) are shared. ``check_disjoint`` then proves
it on the written files. Same seed, same files.
"""

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # run as a plain script from anywhere in the repository

from utils.finetune.triage import FIELDS, SPLITS, validate_dataset  # noqa: E402

SEED = 2024
GENERATED = {"train": 344, "val": 24, "test": 96}  # plus the hand-written examples of each split

# How customers name each product (the taxonomy: shared by every split, never split).
MENTIONS = {
    "AK-1": ["Aurora kettle", "Aurora", "AK-1", "AK1", "kettle", "electric kettle", "AK-1 kettle"],
    "BV-3": ["Breeze vacuum", "Breeze", "BV-3", "BV3", "stick vac", "cordless vacuum", "Breeze vac"],
    "CM-2": ["Crema", "Crema espresso machine", "CM-2", "CM2", "coffee machine", "espresso maker"],
    "DW-5": ["Dewdrop dishwasher", "Dewdrop", "DW-5", "DW5", "dishwasher"],
    "FR-9": ["Frost fridge", "Frost fridge-freezer", "FR-9", "FR9", "fridge", "Frost"],
    "PB-4": ["Pulse blender", "Pulse", "PB-4", "PB4", "portable blender", "smoothie blender"],
    "RM-7": ["Scout robot mop", "Scout", "RM-7", "RM7", "robot mop", "mopping robot", "little robot"],
    "WM-6": ["Cyclone washer", "Cyclone washing machine", "WM-6", "WM6", "washing machine", "Cyclone"],
}
ALL = list(MENTIONS)
TOPIC_PRODUCTS = {  # which products a topic can concern: only cordless things have batteries
    "battery": ["BV-3", "PB-4", "RM-7"], "app": ["CM-2", "FR-9", "RM-7", "WM-6"],
    "leak": ["AK-1", "CM-2", "DW-5", "FR-9", "WM-6"], "noise": ALL, "performance": ALL,
    "delivery": ALL + ["none"], "billing": ALL + ["none"], "praise": ALL, "other": ["none"],
}
TOPIC_WEIGHTS = {"battery": 1.0, "delivery": 1.2, "noise": 1.0, "app": 1.0, "billing": 1.1, "leak": 1.0,
                 "performance": 1.3, "praise": 0.8, "other": 0.6}
SENTIMENT_WEIGHTS = {"praise": {"positive": 1}, "other": {"neutral": 6, "negative": 2, "positive": 2}}
DEFAULT_SENTIMENT = {"negative": 5, "neutral": 3, "positive": 2}

# Bodies: the sentence that carries topic and sentiment. "{p}" marks where the product name goes;
# a body without it gets the product from an intro sentence instead.
BODIES = {
    ("battery", "negative"): [
        "The battery drains even when it is switched off.", "Won't charge at all with the original charger.",
        "Charged it overnight and it was flat again after one go.", "The {p} never gets past 50 percent charge.", "Battery life is a joke.",
        "Needs charging after every single use.", "The battery swells and the case no longer closes.",
        "The battery is dead after ten minutes.", "It won't hold a charge anymore.",
        "Charging takes all night and it's flat by lunch.", "The charging light just blinks red and nothing happens.",
        "Battery went from an hour to fifteen minutes in three months.",
        "The {p} runs out of power halfway through the job, every single time.", "It switches off unless it's plugged in."],
    ("battery", "neutral"): [
        "Is it normal for the battery to get warm while charging?", "How do I check the battery health of the {p}?",
        "How many charge cycles is the battery rated for?", "Can the {p} be used while it is charging?",
        "Should I drain the battery fully before recharging?", "What does the flashing battery icon mean?",
        "Where can I buy a replacement battery?", "How long should a full charge take?",
        "Is it ok to leave it on the charger overnight?", "Can I use a different charger with the {p}?",
        "Do you sell a spare battery for the {p}?"],
    ("battery", "positive"): [
        "The new battery pack lasts twice as long.", "It charges in an hour and lasts all week.",
        "Barely ever need to recharge it.", "Full charge in no time and it keeps going.", "The {p} runs for ages on a single charge.",
        "Runtime on one charge is fantastic.", "Love that it tops up to full in an hour.",
        "The battery lasts way longer than I expected.", "One charge lasts me the whole week.",
        "Charges quickly and runs for ages.", "The {p} battery life is superb.",
        "Impressed that it still holds a full charge after two years."],
    ("delivery", "negative"): [
        "The courier never showed up for the delivery slot.", "My {p} was delivered to a neighbour without telling me.", "The packaging was soaked and torn when it arrived.",
        "The parcel was left at the wrong address.", "Your courier lost my {p}.", "It came with a huge dent in the side.",
        "It arrived two weeks late.", "The box was crushed and the {p} inside is cracked.",
        "Still waiting for the {p}, the tracking hasn't moved in 6 days.",
        "The courier left it in the rain outside my door.", "I was sent the wrong colour.",
        "Delivery was rescheduled three times and nobody turned up.",
        "Parts were missing from the box when it arrived.", "The driver refused to bring it upstairs."],
    ("delivery", "neutral"): [
        "Can I track the parcel online?", "Is weekend delivery available for the {p}?",
        "Will I get a text before the courier arrives?", "Does delivery include taking the packaging away?",
        "Can I pick it up from the depot instead?",
        "Can I change the delivery address?", "What's the expected delivery date?",
        "Could you deliver on a Saturday instead?", "Do you ship the {p} to the Channel Islands?",
        "Is there a tracking number for this?", "Can the courier leave it with a neighbour?"],
    ("delivery", "positive"): [
        "Arrived well packed and on the promised day.", "Super quick shipping, thank you.",
        "Delivered the very next morning, brilliant.", "The courier even carried the {p} into the kitchen.",
        "The courier rang ahead and arrived right on time.", "Everything arrived in perfect condition.",
        "It arrived a day earlier than promised.", "Delivery was quick and the packaging was perfect.",
        "The delivery crew were super friendly and even took the old one away.",
        "Next-day delivery actually came next day, impressive.", "Great communication about the delivery slot."],
    ("noise", "negative"): [
        "A loud screech every time it switches on.", "The {p} makes a knocking noise that wakes the baby.",
        "It clanks and bangs like a building site.", "The buzzing noise is unbearable.", "So noisy we can only use it when we go out.",
        "There is a high-pitched whine whenever it runs.",
        "It makes a horrible grinding noise.", "The rattle is so loud I can't hear the TV.",
        "It beeps constantly for no reason.", "Loud humming all night keeps us awake.",
        "The {p} squeals like a pig when it starts.", "Vibrates so much it walks across the floor.",
        "Way too loud, my dog hides from it."],
    ("noise", "neutral"): [
        "Is a low hum normal when the {p} is running?", "How loud is it in decibels compared to older models?",
        "Is it meant to click when it switches off?", "Any tips to reduce vibration noise?",
        "What is the rattling sound at the start of a cycle?", "Does the {p} have a night mode to keep it quiet?",
        "Is a clicking sound normal when it starts?", "Is there a quiet mode on the {p}?",
        "Should it hum a little when running?", "How many decibels is it?", "Can the end-of-cycle beep be switched off?"],
    ("noise", "positive"): [
        "Quiet enough to run while we watch a film.", "Hardly any noise at all, lovely.",
        "Barely makes a sound.", "The {p} is so much quieter than I expected.",
        "The neighbours no longer complain, it is that quiet.", "Finally an appliance that does not roar.",
        "It's whisper quiet.", "So quiet I forget it's running.", "Much quieter than our old one.",
        "You can barely hear the {p} at night.", "Lovely and silent, even on full power."],
    ("app", "negative"): [
        "The app freezes on the loading screen.", "Since the firmware update the {p} won't connect to the app.",
        "The app won't find the {p} on my network.", "Every app update breaks the connection.", "The app keeps asking me to log in again.",
        "The app wiped all my schedules.",
        "The Northwind Home app crashes every time I open it.", "Can't pair the {p} with my phone no matter what I try.",
        "It keeps dropping off the Wi-Fi.", "The firmware update bricked it.",
        "The app says offline even though it's right next to the router.", "The app logs me out every day.",
        "Notifications from the app arrive hours late."],
    ("app", "neutral"): [
        "Which phones does the Northwind Home app support?", "How do I share access to the {p} in the app?",
        "How do I reset the {p} in the app?", "Can the app send alerts to my watch?",
        "Can I turn off app notifications at night?", "Is there an Android version of the Northwind Home app?",
        "How do I connect it to a new Wi-Fi network?", "Is the app available for older iPhones?",
        "Where do I find the firmware version in the app?", "Can two people control the {p} from the app?",
        "Does the app work without an account?"],
    ("app", "positive"): [
        "The app notifications are really handy.", "Pairing with the app was effortless.",
        "The new app dashboard is really clear.", "Being able to start it remotely from the app is great.",
        "Remote start from the app is a game changer.", "The app shows exactly what the {p} is doing, love it.",
        "The app makes scheduling so easy.", "Love getting a notification from the app when it's done.",
        "Setting up the {p} in the app took two minutes.", "The latest app update fixed everything, nice work.",
        "Controlling it from my phone is brilliant."],
    ("billing", "negative"): [
        "I was charged for an extended warranty I never ordered.", "The refund for the {p} still hasn't reached my card.",
        "I was overcharged on my last invoice.", "You took the payment for the {p} three times.", "Still waiting for my money back.",
        "The invoice shows a delivery fee I never agreed to.",
        "I was charged twice for the {p}.", "Still no refund after returning it a month ago.",
        "You billed me full price despite the discount code.", "There's a charge on my card I don't recognise.",
        "The price dropped a week after I bought it and you won't adjust it.",
        "I cancelled but you charged me anyway.", "The refund was less than what I paid."],
    ("billing", "neutral"): [
        "Can I change the card I pay with?", "Do you offer a student discount on the {p}?",
        "Can I get a receipt emailed to me?", "Is VAT included in the price of the {p}?",
        "Is the extended warranty charged monthly or once?",
        "Could you send me a VAT invoice for the {p}?", "Can I pay in instalments?",
        "Which card was used for this purchase?", "How long do refunds usually take?", "Do you price match?",
        "I need a copy of the receipt for my insurance."],
    ("billing", "positive"): [
        "The refund arrived quicker than promised.", "Thanks for honouring the sale price.",
        "The money was back in my account the next day.", "Thanks for refunding the difference so quickly.",
        "Really appreciate the goodwill refund.", "Checkout and payment were painless.",
        "The refund came through in two days, thank you.", "Thanks for sorting the double charge so fast.",
        "The price was very fair for what you get.", "Your billing team fixed my invoice immediately.",
        "Got the price difference back without any fuss."],
    ("leak", "negative"): [
        "There is a wet patch under the {p} every morning.", "Leaking from the door after every cycle.", "Water keeps dripping from underneath.",
        "Water is pooling under the {p}.", "It leaks all over the worktop.", "Drips everywhere every time I use it.",
        "A steady trickle of water comes out of the back.",
        "There's water all over the floor underneath it.", "It drips from the bottom every time I use it.",
        "Found a puddle under the {p} again this morning.", "Water leaks out of the seal.",
        "The hose connection leaks.", "It's leaking and has ruined my kitchen floor.",
        "Water seeps out the side when it's full."],
    ("leak", "neutral"): [
        "How do I stop the {p} from dripping?", "Is some water under the door seal expected?",
        "Is a drop of water under the {p} normal?", "Where should I check for a leak?",
        "Should there be water in the drip tray?", "Is it a problem if the seal is slightly damp?",
        "Is a little water under it normal?", "Which seal should I replace to stop drips?",
        "How tight should the hose clamp be?", "Is condensation on the back of the {p} normal?",
        "Where can I order a new gasket?"],
    ("leak", "positive"): [
        "The dripping has completely stopped after the repair.", "The leak is gone since you replaced the hose, thank you.", "Finally no water on the floor, the new seal works.",
        "The leak is completely fixed now, thanks.", "No more puddles since the new seal went in.",
        "Thanks, the replacement hose has stopped the drip.",
        "No more leaks since the engineer replaced the seal, thank you.", "The new gasket fixed the dripping completely.",
        "Not a single drop on the floor since the repair.", "Your engineer stopped the leak in ten minutes, great job.",
        "The {p} is bone dry underneath now that the seal was replaced."],
    ("performance", "negative"): [
        "It does a worse job than my ten-year-old one.", "Results are disappointing every time I use it.",
        "It has never worked properly since I bought it.", "Half the time it just does not do its job.", "The {p} is useless at what it is supposed to do.",
        "It has become painfully slow at its one job.", "Results are patchy at best.",
        "It just doesn't do its job properly anymore.", "Works far worse than when it was new.",
        "Honestly the {p} barely works.", "Performance has gone downhill since week one.",
        "It stops halfway through and I have to restart it.", "Takes forever to do anything."],
    ("performance", "neutral"): [
        "What is the best setting for everyday use?", "Should the {p} take an hour to finish?",
        "How can I get it to work better?", "Is there a setting that gives better results?",
        "Which programme gives the best results?", "Does the {p} work better on the eco setting?",
        "How do I get the best results from it?", "Is there a setting to make the {p} work faster?",
        "How often should I clean it to keep it working well?", "What's the recommended maintenance schedule?",
        "Is it supposed to take this long?"],
    ("performance", "positive"): [
        "It does a better job than anything I have owned.", "Great results every single time I use it.",
        "Works perfectly, every time.", "The {p} does its job brilliantly.",
        "Works flawlessly day after day.", "Does its job better than I hoped.",
        "Does exactly what it should, and fast.", "Works better than the expensive brand I had before.",
        "The {p} performs brilliantly every single time.", "Still works like new after a year.", "Does the job perfectly."],
    ("praise", "positive"): [
        "Top marks, Northwind.", "Thank you for a brilliant product.",
        "Love it, thanks Northwind!", "Fantastic product, very happy.", "Could not be happier with the {p}.", "Brilliant, just brilliant.",
        "Best purchase I've made all year.", "Absolutely love the {p}, thank you Northwind!",
        "Five stars, would recommend to anyone.", "My whole family adores it.", "Great product, great company.",
        "Just wanted to say thanks, the {p} is fantastic.", "Really happy with my purchase.",
        "Can't imagine the kitchen without it now."],
    ("other", "neutral"): [
        "Do you know a good dentist nearby?", "Can you tell me the time in Sydney?", "Is anyone reading these messages?",
        "Test message, please ignore.", "Can you recommend a good recipe for banana bread?",
        "What's the weather going to be like tomorrow?", "Who won the football last night?",
        "I think I sent this to the wrong company, sorry.", "Are you a real person or a bot?",
        "Is this the right email for press enquiries?", "hello? anyone there?"],
    ("other", "negative"): [
        "Your website cookie banner is so irritating.", "The music on your phone line is awful.",
        "Your hold music is driving me mad.",
        "Your TV advert is really annoying.", "Stop sending me marketing emails!",
        "This chat website is painfully slow.", "The parking at your head office is terrible."],
    ("other", "positive"): [
        "Loved the charity run your team organised.", "Great podcast episode from your CEO.",
        "Congratulations on the award, well deserved.",
        "Loved your stand at the home show last weekend.", "Your Christmas advert made me cry, lovely.",
        "Nice new website design!", "Happy holidays to the whole team!"],
}
# Delivery and billing messages need not name a product ("none"): these bodies stand on their own.
NO_PRODUCT_BODIES = {
    ("delivery", "negative"): ["My order still hasn't arrived.", "Order {n} is a week overdue.",
                               "The parcel for order {n} was delivered to the wrong house."],
    ("delivery", "neutral"): ["Where is my order?", "Can I get the tracking link for order {n}?",
                              "What time will the courier come tomorrow?"],
    ("delivery", "positive"): ["Order {n} came super fast, thanks.", "My parcel arrived early, great service."],
    ("billing", "negative"): ["I've been charged twice for one order.", "Where is my refund for order {n}?",
                              "Your website took my money but never confirmed the order."],
    ("billing", "neutral"): ["Please send an invoice for order {n}.", "Can I update my billing address?",
                             "Do you accept PayPal?"],
    ("billing", "positive"): ["Thanks for the quick refund on order {n}.", "Refund received today, cheers."],
}
# How well each product does its main job.
PERFORMANCE = {
    "AK-1": {"negative": ["It takes ten minutes to boil a litre.", "Switches off before the water actually boils.",
                          "The water only gets lukewarm."],
             "positive": ["Boils a full jug in under two minutes.", "The keep-warm setting is spot on."]},
    "BV-3": {"negative": ["The suction is so weak it leaves crumbs behind.",
                          "It pushes dust around instead of picking it up.", "Loses suction after a couple of minutes."],
             "positive": ["Suction is amazing, picks up all the dog hair.", "Gets every crumb out of the carpet."]},
    "CM-2": {"negative": ["The espresso comes out watery and cold.", "The milk frother barely froths.",
                          "Coffee tastes burnt no matter the setting."],
             "positive": ["Makes a proper cafe-quality espresso.", "The crema on the coffee is perfect."]},
    "DW-5": {"negative": ["Dishes come out still dirty.", "Glasses are cloudy after every wash.",
                          "Nothing is dry at the end of the cycle."],
             "positive": ["Plates come out spotless.", "Even baked-on lasagne comes off."]},
    "FR-9": {"negative": ["It isn't keeping food cold.", "The freezer section frosts up within a week.",
                          "Milk goes off in two days in it."],
             "positive": ["Keeps everything perfectly chilled.", "The freezer is frost free as promised."]},
    "PB-4": {"negative": ["Can't even crush ice.", "Leaves chunks of fruit in every smoothie.",
                          "The motor stalls with frozen berries."],
             "positive": ["Makes silky smooth smoothies in seconds.", "Crushes ice like nothing."]},
    "RM-7": {"negative": ["It misses half the kitchen floor.", "Keeps getting stuck under the sofa.",
                          "Leaves streaks everywhere it mops."],
             "positive": ["The floors have never been this clean.", "Maps the whole flat and mops every corner."]},
    "WM-6": {"negative": ["Clothes come out still soaking wet.", "Stains don't come out even on the hot wash.",
                          "The spin cycle never finishes."],
             "positive": ["Clothes come out really clean and fresh.", "The quick wash is fantastic for gym kit."]},
}
GREETINGS = ["Hi,", "Hello,", "Hi there,", "Hello Northwind,", "Dear support team,", "Hey,", "Good morning,",
             "To whom it may concern,", "Hiya,", "Dear Sir or Madam,", "Evening all,", "Hi team,", "Good afternoon,",
             "Hey folks,", "Morning!", "Dear Northwind,"]
INTROS = ["I bought the {p} last month.", "About my {p}:", "Re: {p}", "{p} owner here.",
          "We got a {p} for Christmas.", "My {p} is about six months old.", "I have a question about the {p}.",
          "Writing about the {p} I ordered.", "Regarding my new {p}.", "Got the {p} in the spring sale.",
          "I've had a {p} for two years.", "My partner bought me a {p}.", "Product: {p}.",
          "This is about our {p}.", "Recently switched to the {p}.", "Model: {p}.", "We use the {p} daily.",
          "Bought a {p} from your website.", "Our {p} was a wedding present.", "I'm on my second {p}."]
OPENERS = ["Quick one.", "Not sure who to ask.", "Long-time customer here.", "Sorry to bother you.",
           "First time writing in.", "Hope you can help.", "Just a quick note.", "Following up on my earlier email.",
           "Writing from my work account.", "Second message today."]
SOFTENERS = ["The design is lovely.", "I really wanted to like it.", "Setup was easy enough.",
             "Your staff were friendly on the phone.", "It looks great in the kitchen.", "The price was good.",
             "To be fair, it worked well for the first month.", "I usually love Northwind stuff.",
             "Nice colour, I'll give you that.", "Delivery was fine."]
ASIDES = ["Only wish it came in more colours.", "The manual could be clearer, but that's minor.",
          "Bit pricey, but worth it.", "Took a while to figure out the buttons.", "Wish the cable was longer.",
          "The instructions were a bit vague.", "Box was a bit big for our bin.", "Wish it had a timer."]
SIGNOFFS = ["Thanks", "Thanks in advance.", "Cheers, Sam", "Regards, J. Patel", "Kind regards", "Sent from my phone",
            "Many thanks, Olivia", "Thx", "Best, Marco", "- Dave", "Please help!", "Ta.", "Cheers", "Best wishes, Ann",
            "Thank you!", "Warm regards, Li"]
ORDER_REFS = ["Order no. {n}.", "(order {n})", "My order number is {n}.", "Ref: NW{n}.", "Order #{n}."]
FEELINGS = {  # how the customer says they feel, split like everything else
    "negative": ["This is really frustrating.", "Not happy at all.", "Very disappointed.", "I expected better.",
                 "Getting fed up with this.", "Pretty annoyed, to be honest.", "What a waste of money.",
                 "Please sort this out."],
    "neutral": ["Just curious.", "No rush.", "Thanks for any info.", "Appreciate the help.",
                "Just want to check before I do anything.", "Any advice welcome."],
    "positive": ["Really pleased.", "Made my day.", "Very impressed.", "Thanks so much!", "Keep it up.",
                 "Happy customer here."],
}

POOLS = {"greeting": GREETINGS, "intro": INTROS, "opener": OPENERS, "softener": SOFTENERS, "aside": ASIDES,
         "signoff": SIGNOFFS, "orderref": ORDER_REFS}
POOLS |= {f"feeling:{sentiment}": items for sentiment, items in FEELINGS.items()}
POOLS |= {f"body:{topic}.{sentiment}": items for (topic, sentiment), items in BODIES.items()}
POOLS |= {f"noproduct:{topic}.{sentiment}": items for (topic, sentiment), items in NO_PRODUCT_BODIES.items()}
POOLS |= {f"perf:{code}.{sentiment}": items for code, pools in PERFORMANCE.items() for sentiment, items in pools.items()}


def split_pool(name: str, items: list[str], seed: int) -> dict[str, list[tuple[str, str]]]:
    """Shuffle one pool and deal it out: ~60 % train, ~15 % val, ~25 % test (test always gets its own)."""
    order = list(range(len(items)))
    random.Random(f"{seed}-{name}").shuffle(order)  # a string seed is stable across runs and Python versions
    n_test = max(1, round(0.25 * len(items)))
    n_val = max(1, round(0.15 * len(items))) if len(items) >= 4 else 0
    cut = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    if not cut["val"]:  # a pool too small to split three ways lends its training pieces to validation
        cut["val"] = cut["train"]
    return {split: [(f"{name}.{i}", items[i]) for i in sorted(indices)] for split, indices in cut.items()}


def typos(text: str, rng: random.Random) -> str:
    """Real messages are messy: swap, drop or double a letter in a word or two (never in a product code)."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha() and not w.isupper()]
    for i in rng.sample(candidates, min(len(candidates), rng.choice([1, 1, 2]))):
        w, k = words[i], rng.randrange(1, len(words[i]) - 2)
        words[i] = rng.choice([w[:k] + w[k + 1] + w[k] + w[k + 2:], w[:k] + w[k + 1:], w[:k] + w[k] + w[k:]])
    return " ".join(words)


def roughen(text: str, sentiment: str, rng: random.Random) -> str:
    if rng.random() < 0.25:
        text = typos(text, rng)
    if rng.random() < 0.12:
        text = text.lower()
    elif sentiment == "negative" and rng.random() < 0.06:
        text = text.upper().rstrip(".") + "!!!"
    if rng.random() < 0.08:
        text = text.replace(".", "").replace(",", "")
    if rng.random() < 0.1:
        text = text.replace(" you ", " u ").replace("please", "pls").replace("Thanks", "thx")
    return text


def capitalise(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def make_message(split: str, pieces: dict, rng: random.Random) -> dict:
    """Assemble one labelled message from ``split``'s own pieces."""
    topic = rng.choices(list(TOPIC_WEIGHTS), weights=list(TOPIC_WEIGHTS.values()))[0]
    sentiment_weights = SENTIMENT_WEIGHTS.get(topic, DEFAULT_SENTIMENT)
    sentiment = rng.choices(list(sentiment_weights), weights=list(sentiment_weights.values()))[0]
    candidates = TOPIC_PRODUCTS[topic]
    product = "none" if "none" in candidates and rng.random() < 0.2 else rng.choice([c for c in candidates
                                                                                      if c != "none"] or ["none"])
    parts, sentences = [], []

    def take(pool: str) -> str:
        part_id, text = rng.choice(pieces[pool][split])
        parts.append(part_id)
        return text

    number = str(rng.randint(10000, 99999))
    if product == "none" and topic != "other":
        body = take(f"noproduct:{topic}.{sentiment}").format(n=number)
    else:
        pool = f"body:{topic}.{sentiment}"
        options = pieces[pool][split]
        if topic == "performance" and sentiment != "neutral":  # product-specific phrasings too
            options = options + pieces[f"perf:{product}.{sentiment}"][split]
        part_id, body = rng.choice(options)
        parts.append(part_id)
    mention = rng.choice(MENTIONS[product]) if product != "none" else ""
    if rng.random() < 0.5:
        sentences.append(take("greeting"))
    if product != "none" and "{p}" not in body:
        sentences.append(capitalise(take("intro").format(p=mention)))
    elif rng.random() < 0.4:
        sentences.append(take("opener"))
    if sentiment == "negative" and product != "none" and rng.random() < 0.25:
        sentences.append(take("softener"))  # mixed feelings: a compliment, then the real complaint
    sentences.append(capitalise(body.format(p=mention)))
    if sentiment == "positive" and topic not in ("other", "praise") and rng.random() < 0.2:
        sentences.append(take("aside"))  # a minor gripe does not make a happy customer unhappy
    if topic != "other" and rng.random() < 0.3:
        sentences.append(take(f"feeling:{sentiment}"))
    if topic in ("delivery", "billing") and product != "none" and rng.random() < 0.4:
        sentences.append(take("orderref").format(n=number))
    if rng.random() < 0.5:
        sentences.append(take("signoff"))
    text = roughen(" ".join(sentences), sentiment, rng)
    return {"text": text, "product": product, "topic": topic, "sentiment": sentiment,
            "source": "generated", "parts": parts}


def build_splits(seed: int = SEED, sizes: dict | None = None, handwritten: Path = HERE / "handwritten.jsonl"):
    sizes = sizes or GENERATED
    pieces = {name: split_pool(name, items, seed) for name, items in POOLS.items()}
    hand = [json.loads(line) for line in handwritten.read_text(encoding="utf-8").splitlines() if line.strip()]
    splits = {}
    for split in SPLITS:
        rng = random.Random(f"{seed}-{split}")
        examples, seen = [], set()
        while len(examples) < sizes[split]:
            example = make_message(split, pieces, rng)
            if example["text"].lower() not in seen:  # no duplicate messages within a split
                seen.add(example["text"].lower())
                examples.append(example)
        for number, row in enumerate(r for r in hand if r["split"] == split):
            examples.append({"text": row["text"], **{name: row[name] for name in FIELDS},
                             "source": "handwritten", "parts": [f"handwritten.{split}.{number}"]})
        random.Random(f"{seed}-{split}-order").shuffle(examples)
        splits[split] = [{"id": f"{split}-{i:04d}", **example} for i, example in enumerate(examples)]
        validate_dataset(splits[split], f"{split} split")
    check_disjoint(splits)
    return splits


def check_disjoint(splits: dict[str, list[dict]]) -> None:
    """Fail loudly if any test phrasing (or a whole test message) also occurs in training."""
    train_parts = {part for example in splits["train"] for part in example["parts"]}
    train_texts = {example["text"].lower() for example in splits["train"]}
    for example in splits["test"]:
        shared = set(example["parts"]) & train_parts
        if shared or example["text"].lower() in train_texts:
            raise AssertionError(f"Test example {example['id']} reuses training phrasings {sorted(shared)}.")


def write_splits(splits: dict[str, list[dict]], folder: Path = HERE) -> None:
    for split, examples in splits.items():
        lines = [json.dumps(example, ensure_ascii=False) for example in examples]
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the .jsonl files")
    args = parser.parse_args(argv)
    splits = build_splits(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_splits(splits, args.out)
    for split, examples in splits.items():
        counts = Counter(example["topic"] for example in examples)
        print(f"{split:<5} {len(examples):>4} examples  topics: {dict(sorted(counts.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
