"""Everyday English conversations without tools. Keys name them for planted duplicates."""

from .dsl import SYS

EVERYDAY_EN = {
    # --- scheduling ------------------------------------------------------------------------
    "en_week_split": [
        "I have three things due Friday: a report, a slide deck and a budget review. How should I "
        "split the week?",
        "Here's a simple split, assuming Monday to Thursday are usable:\n"
        "- Monday: outline the report and list the numbers the budget review needs.\n"
        "- Tuesday: write the report draft.\n"
        "- Wednesday: build the slides from the report, so you only think through the content once.\n"
        "- Thursday: budget review, then a final pass on everything.\n"
        "Friday morning stays free as a buffer.",
        "The budget review needs input from finance, and they only reply in the afternoons.",
        "Then ask finance on Monday morning, so their answer can arrive Monday or Tuesday afternoon. "
        "Keep Thursday for the review itself, and if they still haven't replied by Tuesday evening, "
        "send a short reminder first thing Wednesday.",
    ],
    "en_plan_stick": [
        "What's a good way to plan a week so I actually stick to it?",
        "A few things that tend to work:\n"
        "1. Plan on Sunday evening for 15 minutes, not every morning.\n"
        "2. Pick three must-do items for the week; everything else is a bonus.\n"
        "3. Put them in the calendar as blocks, not just on a list.\n"
        "4. Leave about a third of each day unplanned, because something always comes up.\n"
        "5. On Friday, check what slipped and why before planning the next week.",
    ],
    "en_decline_meeting": [
        "How do I decline a meeting politely when I'm just too busy?",
        "Keep it short and offer an alternative. For example:\n\n"
        "\"Thanks for the invite. I'm fully booked on a deadline this week, so I can't join. Could "
        "you share the notes afterwards? If my input is needed, I'm free Monday afternoon.\"",
        "What if it's my boss's meeting?",
        "Then check first whether it's really optional. If it is, tell them directly rather than "
        "just clicking decline: \"I'd like to skip Thursday's meeting to finish the client report. "
        'Is that okay with you, or would you rather I join?" That leaves the decision with them.',
    ],
    # --- cooking ---------------------------------------------------------------------------
    "en_jammy_egg": [
        "How long should I boil an egg for a jammy yolk?",
        "For a large egg straight from the fridge, lower it into boiling water and cook for 6½ to 7 "
        "minutes, then put it in ice water for a few minutes. The white sets and the yolk stays soft "
        "and jammy.",
        "And for hard-boiled?",
        "About 10 to 12 minutes in boiling water, then the same ice bath. The quick cooling also "
        "makes them easier to peel.",
    ],
    "en_fried_rice": [
        "I have rice, eggs, spring onions and soy sauce. Any dinner idea?",
        "Egg fried rice is perfect for that:\n"
        "1. Scramble two eggs in a hot, oiled pan until just set, then take them out.\n"
        "2. Fry the white parts of the spring onions for 30 seconds.\n"
        "3. Add the rice and stir-fry on high heat for 3 to 4 minutes.\n"
        "4. Add about a tablespoon of soy sauce around the edge of the pan, then the eggs and the "
        "green onion tops. Mix and serve.",
        "How do I stop it from getting mushy?",
        "Use cold, day-old rice if you can, since fresh rice is too moist. Keep the heat high, don't "
        "overcrowd the pan, and add the soy sauce near the end rather than at the start.",
    ],
    "en_baking_soda": [
        "Can I use baking soda instead of baking powder?",
        "Not one for one. Baking powder is baking soda plus an acid, so on its own soda needs "
        "something acidic in the recipe. A common swap for 1 teaspoon of baking powder is ¼ teaspoon "
        "of baking soda plus ½ teaspoon of cream of tartar.",
    ],
    "en_vinaigrette": [
        "How do I make a basic vinaigrette?",
        "Use about three parts oil to one part vinegar. Whisk 1 tablespoon of vinegar with a pinch of "
        "salt and half a teaspoon of mustard, then slowly whisk in 3 tablespoons of olive oil. Taste "
        "and adjust; a little honey rounds it off if it's too sharp.",
        "Can I make a big batch and keep it?",
        "Yes. Shake it in a jar and keep it in the fridge for up to about a week. The oil may "
        "solidify in the cold, so leave it out for ten minutes and shake before using. If you add "
        "fresh garlic or herbs, use it within a few days.",
    ],
    # --- coding ----------------------------------------------------------------------------
    "en_reverse_string": [
        "How do I reverse a string in Python?",
        'Use slicing with a step of -1:\n\n```python\ns = "hello"\nprint(s[::-1])  # olleh\n```',
        "Nice. And how do I check if it's a palindrome, ignoring case and spaces?",
        "Normalise it first, then compare it with its reverse:\n\n"
        "```python\ndef is_palindrome(text: str) -> bool:\n"
        '    cleaned = "".join(ch.lower() for ch in text if ch.isalnum())\n'
        "    return cleaned == cleaned[::-1]\n\n"
        'print(is_palindrome("Never odd or even"))  # True\n```\n\n'
        '`isalnum()` also drops punctuation, so "A man, a plan, a canal: Panama" works too.',
    ],
    "en_list_tuple": [
        "What's the difference between a list and a tuple in Python?",
        "A list is mutable: you can append, remove or change items. A tuple is immutable once "
        "created. Use a tuple for a fixed group of values, like a coordinate `(x, y)`, and a list for "
        "a collection that changes. Tuples can also be dictionary keys; lists can't.",
    ],
    "en_count_lines": [
        "Give me a bash one-liner to count the lines in all .py files in a folder.",
        "```bash\nfind . -name '*.py' -print0 | xargs -0 wc -l | tail -n 1\n```\n"
        "`wc -l` prints a count per file, and `tail -n 1` keeps only the total. `-print0` and `-0` "
        "keep file names with spaces safe.",
        "Can you exclude the .venv folder?",
        "Prune it in `find`:\n\n"
        "```bash\nfind . -path ./.venv -prune -o -name '*.py' -print0 | xargs -0 wc -l | tail -n 1\n```",
    ],
    "en_amend_commit": [
        "My last git commit message has a typo. How do I fix it?",
        'If you haven\'t pushed yet:\n\n```bash\ngit commit --amend -m "Corrected message"\n```\n\n'
        "If you already pushed, amend the same way and then `git push --force-with-lease`, but only "
        "on a branch nobody else is working on, since it rewrites history.",
    ],
    "en_decorator": [
        "Explain briefly what a Python decorator does.",
        "A decorator is a function that takes another function and returns a wrapped version of it. "
        "It lets you add behaviour, like timing or logging, without changing the original code:\n\n"
        "```python\nimport time\n\ndef timed(fn):\n    def wrapper(*args, **kwargs):\n"
        "        start = time.perf_counter()\n        result = fn(*args, **kwargs)\n"
        '        print(f"{fn.__name__}: {time.perf_counter() - start:.3f}s")\n'
        "        return result\n    return wrapper\n\n@timed\ndef work():\n    time.sleep(0.5)\n```",
    ],
    "en_read_jsonl": [
        "How do I read a JSONL file in Python?",
        "Read it line by line and parse each line on its own:\n\n"
        '```python\nimport json\n\nwith open("data.jsonl", encoding="utf-8") as f:\n'
        "    records = [json.loads(line) for line in f if line.strip()]\n```\n\n"
        "The `if line.strip()` skips blank lines, which would otherwise raise an error.",
        "What if one line is broken?",
        "Catch the error per line so one bad line doesn't stop the rest:\n\n"
        '```python\nrecords, bad = [], []\nwith open("data.jsonl", encoding="utf-8") as f:\n'
        "    for n, line in enumerate(f, 1):\n        if not line.strip():\n            continue\n"
        "        try:\n            records.append(json.loads(line))\n"
        "        except json.JSONDecodeError as e:\n            bad.append((n, str(e)))\n```",
    ],
    "en_http_codes": [
        "What's the difference between HTTP 403 and 404?",
        "404 Not Found means the server can't find the resource at that URL. 403 Forbidden means it "
        "exists (or the server won't say), but you aren't allowed to access it, even if you're "
        "logged in. For a missing login, the usual code is 401 Unauthorized.",
    ],
    "en_sql_top3": [
        "In SQL, how do I get the top 3 salaries per department?",
        "Use a window function:\n\n```sql\nSELECT department, name, salary\nFROM (\n"
        "  SELECT department, name, salary,\n"
        "         DENSE_RANK() OVER (PARTITION BY department ORDER BY salary DESC) AS rnk\n"
        "  FROM employees\n) ranked\nWHERE rnk <= 3;\n```\n\n"
        "`DENSE_RANK` keeps ties together; use `ROW_NUMBER` if you want exactly three rows per "
        "department.",
    ],
    # --- travel ----------------------------------------------------------------------------
    "en_busan_trip": [
        "I'm visiting Busan for two days. What should I see?",
        "A relaxed two-day plan:\n"
        "- Day 1: Haeundae Beach in the morning, the Blueline Park beach train along the coast, then "
        "Gwangalli Beach at night to see the Gwangan Bridge lit up.\n"
        "- Day 2: Gamcheon Culture Village, then Jagalchi Fish Market for lunch and a walk around "
        "Nampo-dong and BIFF Square.\n"
        "If you have extra time, Haedong Yonggungsa, a temple right on the sea, is worth it.",
        "How do I get there from Seoul?",
        "The KTX from Seoul Station to Busan Station is the easiest: about two and a half hours. "
        "Flying from Gimpo to Gimhae takes about an hour in the air, but with airport time it's "
        "rarely faster door to door.",
    ],
    "en_tokyo_pack": [
        "What should I pack for a week in Tokyo in late November?",
        "Expect roughly 8 to 16°C, with cool mornings and evenings. Pack layers: a light coat or warm "
        "jacket, a sweater or two, long trousers, comfortable walking shoes and a small umbrella. A "
        "scarf helps at night, and a coin purse is handy because cash and coins are still common.",
    ],
    "en_japan_visa": [
        "Do I need a visa to visit Japan with a Korean passport?",
        "For tourism, no. Korean passport holders can visit Japan visa-free for up to 90 days. Your "
        "passport should be valid for the whole stay, and it's worth checking the official rules "
        "before you fly in case anything has changed.",
    ],
    "en_jet_lag": [
        "Any tips for jet lag after flying to New York?",
        "New York is 14 hours behind Seoul in winter, so:\n"
        "- Switch your watch to New York time on the plane and sleep when it's night there.\n"
        "- On arrival, get daylight in the morning and stay up until at least 9 or 10 pm.\n"
        "- Keep naps under 30 minutes.\n"
        "- Go easy on alcohol, and no caffeine after early afternoon.\n"
        "Most people feel normal after two or three days.",
    ],
    # --- language --------------------------------------------------------------------------
    "en_affect_effect": [
        "When do I use 'affect' and when 'effect'?",
        'Usually "affect" is the verb and "effect" the noun: "The rain affected the game" and '
        '"The rain had an effect on the game." A quick trick: Affect is the Action, Effect is the '
        "End result.",
    ],
    "en_fewer_less": [
        "Is it 'fewer people' or 'less people'?",
        '"Fewer people." Use "fewer" for things you can count (people, emails, cars) and "less" '
        "for amounts you can't count (time, water, stress).",
    ],
    "en_korean_greeting": [
        "How do I say 'nice to meet you' in Korean?",
        "The polite standard is 만나서 반갑습니다 (man-na-seo ban-gap-seum-ni-da). With people your "
        "age in a relaxed setting, 만나서 반가워요 is fine.",
        "And 'see you tomorrow'?",
        "내일 봬요 is polite, and 내일 봐 is casual, for friends. With a boss or someone older, stick "
        "to 내일 봬요 or the more formal 내일 뵙겠습니다.",
    ],
    "en_break_a_leg": [
        "What does 'break a leg' mean?",
        'It means "good luck", especially before a performance. Theatre people say it because '
        'wishing someone "good luck" directly was thought to bring bad luck.',
    ],
    "en_fix_sentence": [
        "Can you check this sentence: 'Me and him goes to the gym every days.'",
        'Corrected: "He and I go to the gym every day." Three fixes: "he and I" for the subject, '
        '"go" because the subject is plural, and "every day" (two words, singular) for the '
        "frequency.",
    ],
    # --- study -----------------------------------------------------------------------------
    "en_vocab": [
        "How can I memorise vocabulary more efficiently?",
        "Use spaced repetition: review a word just before you'd forget it, at growing intervals "
        "(1 day, 3 days, a week, and so on). An app like Anki does the scheduling for you. Learn "
        "words inside example sentences rather than alone, and say them out loud; 15 minutes every "
        "day beats an hour once a week.",
    ],
    "en_distracted": [
        "I keep getting distracted while studying. Any tips?",
        "Try the Pomodoro method: 25 minutes of focused work, then a 5-minute break, and a longer "
        "break after four rounds. Put your phone in another room, not just face down, and write down "
        "stray thoughts on paper instead of acting on them.",
        "What if 25 minutes feels too short?",
        "Then stretch it. Many people work better in 45- or 50-minute blocks with a 10-minute break. "
        "The exact numbers matter less than having a clear start, a clear end, and a real break.",
    ],
    "en_photosynthesis": [
        "Explain photosynthesis simply.",
        "Plants use sunlight to turn water and carbon dioxide into sugar, which is their food. "
        "Oxygen is released as a by-product. It happens mainly in the leaves, inside chloroplasts, "
        "where the green pigment chlorophyll captures the light.",
    ],
    "en_mean_median": [
        "What's the difference between the mean and the median?",
        "The mean is the average: add everything up and divide by how many there are. The median is "
        "the middle value once you sort them. For 1, 2, 3, 4 and 100, the mean is 22 but the median "
        "is 3, so the median is better when a few extreme values would distort the picture.",
    ],
    # --- health ----------------------------------------------------------------------------
    "en_water": [
        "How much water should I drink a day?",
        "A common rule of thumb is about 1.5 to 2 litres of fluids a day, more when it's hot or you "
        "exercise. Food covers part of your needs too. A simple check: if you're rarely thirsty and "
        "your urine is pale yellow, you're drinking enough.",
    ],
    "en_start_running": [
        "I want to start running but I'm really out of shape. How should I begin?",
        "Start with run-walk intervals three times a week: for example, 1 minute of easy jogging and "
        "2 minutes of walking, repeated for 20 to 30 minutes. Every week, make the running parts a "
        "little longer. Go slowly enough that you could still talk, and rest a day between runs.",
        "How long until I can run 5K without stopping?",
        "With three sessions a week, most beginners get there in about 8 to 10 weeks. If your knees "
        "or shins start to hurt, repeat a week instead of pushing on.",
    ],
    "en_sleep_schedule": [
        "I can't fall asleep before 2am. How do I fix my sleep schedule?",
        "Shift it gradually instead of all at once. Pick a fixed wake-up time, say 8am, and keep it "
        "every day, weekends included; that's what resets your body clock. Get bright daylight soon "
        "after waking, avoid caffeine after about 2pm, and dim screens and lights for the last hour "
        "before bed. Move your bedtime earlier by 15 to 30 minutes every few days. If you're not "
        "asleep after about 20 minutes, get up and do something calm in low light until you feel "
        "sleepy, then try again. Most people see a difference within two to three weeks if they "
        "stay consistent.",
    ],
    "en_sitting": [
        "Is it really that bad to sit all day?",
        "Long unbroken sitting is linked to back pain and worse metabolic health, even in people "
        "who exercise. The fix is simple: get up and move for a couple of minutes every 30 to 60 "
        "minutes. A walk at lunch and taking calls standing up help too.",
    ],
    # --- small talk ------------------------------------------------------------------------
    "en_bored": [
        "I'm bored. Tell me something interesting.",
        "Octopuses have three hearts and blue blood. Two hearts pump blood through the gills, and "
        "the third serves the rest of the body.",
        "Another one?",
        "Botanically, bananas are berries but strawberries aren't. A berry develops from a single "
        "ovary with the seeds inside, and strawberries carry their seeds on the outside.",
    ],
    "en_long_day": [
        "Long day today. I just wanted to chat for a bit.",
        "Happy to. What made it long: too much work, too many people, or just everything at once?",
        "Mostly meetings. Six of them.",
        "Six is a lot; no wonder you're drained. Meetings use up energy even when you barely speak. "
        "Maybe give yourself a quiet evening, and if tomorrow looks the same, block an hour in your "
        "calendar just for yourself.",
    ],
    "en_rainy_movie": [
        "What's a good movie for a rainy Sunday?",
        'A few cosy picks: "Paddington 2" if you want something warm and funny, "Spirited Away" '
        'for something magical, or "Little Miss Sunshine" for a bittersweet comedy. Want something '
        "more thrilling instead?",
    ],
    "en_thanks": [
        "Thanks for the help with the report earlier.",
        "You're welcome. I hope it went well. Let me know if you want a second look at the next "
        "draft.",
    ],
    # --- summarising -----------------------------------------------------------------------
    "en_summary_remote": [
        "Summarise this in two sentences: Remote work has grown quickly since 2020. Many companies "
        "found that productivity stayed the same or improved, and employees liked saving time on "
        "commuting. However, some managers worry about weaker team culture and harder onboarding for "
        "new hires. As a result, many firms now use a hybrid model, with two or three office days a "
        "week.",
        "Remote work has grown since 2020, and productivity mostly held up while employees saved "
        "time on commuting. Because of concerns about team culture and onboarding, many companies "
        "now use a hybrid model with two or three office days a week.",
    ],
    "en_summary_meeting": [
        "One-line summary of these notes, please: Q3 sales were up 8%. The new app launch moves from "
        "October to mid-November because of payment testing. Marketing needs the final screenshots by "
        "October 20. Next meeting on the 28th.",
        "Sales rose 8% in Q3, the app launch slips to mid-November for payment testing, and "
        "marketing needs final screenshots by October 20.",
    ],
    "en_tldr_email": [
        "TL;DR this email: Hi all, just a reminder that the office will be closed next Monday for "
        "building maintenance. Please take your laptops home on Friday. The VPN will work as usual, "
        "and IT support is available by chat from 9 to 6. Sorry for the inconvenience.",
        "The office is closed next Monday for maintenance, so take your laptop home on Friday. The "
        "VPN works as usual and IT chat support runs from 9 to 6.",
    ],
    # --- emails ----------------------------------------------------------------------------
    "en_email_day_off": [
        "Write a short email asking my manager for Friday off.",
        "Subject: Day off on Friday\n\nHi [Manager's name],\n\nI'd like to take this Friday off as a "
        "personal day. My tasks for the week will be done by Thursday, and I'll make sure anything "
        "urgent is covered. Please let me know if that works for you.\n\nThanks,\nMinjun",
    ],
    "en_email_late_delivery": [
        "Help me reply to a client who's upset that their delivery was late.",
        "Here's a draft:\n\nDear [Client name],\n\nI'm sorry your order arrived later than we "
        "promised, and I understand how frustrating that is. The delay was caused by a problem at our "
        "warehouse, which we've now fixed. As an apology, we'd like to offer [discount/free "
        "shipping] on your next order.\n\nThank you for your patience.\n\nBest regards,\nMinjun Kim\n\n"
        "Fill in the brackets and adjust the reason if it was something else.",
        "Shorter please, and no discount.",
        "Dear [Client name],\n\nI'm sorry your order arrived late. The cause was a warehouse problem "
        "that we've now fixed, and we'll keep a closer eye on your future orders.\n\nThank you for "
        "your patience.\n\nBest regards,\nMinjun Kim",
    ],
    "en_thank_colleague": [
        "Draft a thank-you note to a colleague who helped me with my presentation.",
        "Hi Seoyeon,\n\nThank you for your help with the presentation. Your feedback on the structure "
        "and the charts made it much clearer, and several people mentioned how easy it was to "
        "follow. I really appreciate the time you gave me.\n\nBest,\nMinjun",
        "Make it a bit more casual.",
        "Hey Seoyeon,\n\nThanks so much for your help with the presentation. Your tips on the charts "
        "made a huge difference, and people said it was really easy to follow. Coffee's on me this "
        "week.\n\nMinjun",
    ],
    # --- math ------------------------------------------------------------------------------
    "en_percent": [
        "What's 15% of 240?",
        "15% of 240 is 36 (0.15 × 240).",
        "And if I add 10% tax to 240?",
        "240 × 1.10 = 264, so the total with tax is 264.",
    ],
    "en_linear_eq": [
        "Solve 2x + 7 = 19.",
        "Subtract 7 from both sides: 2x = 12. Divide by 2: x = 6.",
    ],
    "en_seconds_day": [
        "How many seconds are there in a day?",
        "86,400: 24 hours × 60 minutes × 60 seconds.",
    ],
    "en_savings_months": [
        "If I save 300,000 won a month, how long until I have 5 million?",
        "5,000,000 ÷ 300,000 ≈ 16.7, so 17 months. After 16 months you'd have 4.8 million, and "
        "month 17 takes you to 5.1 million.",
    ],
    "en_compound": [
        "What's the compound interest on $1,000 at 5% a year for 3 years?",
        "1,000 × 1.05³ = $1,157.63, so the interest is $157.63. With simple interest it would be "
        "$150, so compounding adds $7.63.",
    ],
    "en_fahrenheit": [
        "Convert 72°F to Celsius.",
        "(72 − 32) × 5/9 ≈ 22.2°C, a comfortable room temperature.",
    ],
    "en_system_budget": [
        SYS,
        "Can you help me make a simple monthly budget? I earn 3.2 million won after tax.",
        "Sure. A common starting point is the 50/30/20 split:\n"
        "- Needs (rent, bills, groceries, transport): 50% = 1.6 million won\n"
        "- Wants (eating out, hobbies, shopping): 30% = 960,000 won\n"
        "- Savings and debt repayment: 20% = 640,000 won\n"
        "If your rent alone is high, lower the wants share rather than savings.",
        "My rent is 900,000 won.",
        "Then rent takes about 28% of your income, leaving 700,000 won of the needs budget for bills, "
        "groceries and transport. That's tight but workable. If it doesn't stretch, take 100,000 to "
        "200,000 won from wants and keep the 640,000 won of savings.",
    ],
}
