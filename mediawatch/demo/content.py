"""The demo newsroom's articles, written by the project (no third-party text): two weeks
of ordinary coverage of the seed story's actors in English and Arabic, then a burst of
reports about Iraq's Interior Ministry from many outlets in the last hours.

Pure and deterministic: ``history(now)`` and ``burst(now)`` depend only on ``now``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

OUTLETS = (
    "Baghdad Ledger",
    "Tigris Daily",
    "Gulf Wire",
    "Levant Observer",
    "Kurdistan Monitor",
    "Al-Rafidain Post",
)


@dataclass(frozen=True)
class DemoArticle:
    outlet: int
    slug: str
    title: str
    paragraphs: tuple[str, ...]
    language: str
    published: datetime


# Sentence templates per theme; {place}, {n}, {official}, {day} are filled at random so
# that no two articles share enough wording to look like copies of one another.
THEMES_EN: dict[str, tuple[str, ...]] = {
    "pmf": (
        "Leaders of the Popular Mobilization Forces met in {place} on {day} to discuss the budget.",
        "A spokesman for the Popular Mobilization Forces said {n} fighters had been redeployed.",
        "The Hashd al-Shaabi umbrella group denied any role in the incident near {place}.",
        "Analysts in {place} say the PMF factions remain divided over the election law in Iraq.",
    ),
    "kataib": (
        "Kata'ib Hezbollah issued a statement on {day} warning against foreign forces in Iraq.",
        "Officials in {place} linked {n} rocket launches to Kata'ib Hezbollah.",
    ),
    "khazali": (
        "Qais al-Khazali, leader of Asa'ib Ahl al-Haq, addressed supporters in {place}.",
        "Asa'ib Ahl al-Haq said its lawmakers would vote against the proposal on {day}.",
    ),
    "us_troops": (
        "The coalition said {n} US troops in Iraq would rotate out of the base near {place}.",
        "A drone was shot down near a base hosting US forces in Iraq, officials said on {day}.",
    ),
    "soleimani": (
        "Posters of Qassem Soleimani were put up in {place} ahead of the anniversary.",
        "Iran's Quds Force commander visited {place}, according to {n} local sources.",
    ),
    "peshmerga": (
        "Peshmerga units and the Iraqi army held a joint exercise near {place} on {day}.",
        "The Kurdistan Regional Government said {n} Peshmerga salaries were paid late.",
    ),
    "isis": (
        "Security forces killed {n} ISIS militants in an operation west of {place}.",
        "Residents of {place} reported an ISIS attack on a checkpoint on {day}.",
    ),
}

FILLER_EN = (
    "The statement came after {n} days of talks between the political blocs.",
    "Local officials in {place} declined to comment when contacted on {day}.",
    "{official} told reporters the situation was under control.",
    "Traffic in central {place} was disrupted for {n} hours, witnesses said.",
    "The parliament session on {day} ended without a quorum.",
    "Observers expect further negotiations over the next {n} weeks.",
    "Electricity shortages in {place} have fuelled anger among residents.",
    "{official} said the government would publish a report within {n} days.",
)

INTERIOR_EN = (
    "Iraq's Interior Ministry has been handed to a candidate backed by the militias, "
    "lawmakers in Baghdad said on {day}.",
    "Parliament in Baghdad voted on the Interior Minister nominee after {n} hours of debate.",
    "Critics in {place} warned that the Iraqi Interior Ministry could fall under the control "
    "of Iran-backed factions.",
    "The nominee for Minister of Interior is close to the Badr Organization, {official} said.",
    "Protesters gathered outside the Interior Ministry in Baghdad, chanting against militias.",
    "US officials expressed concern that Iraq's Ministry of Interior would be run by a "
    "militia ally.",
)

INTERIOR_AR = (
    "صوت البرلمان العراقي في بغداد على مرشح وزارة الداخلية بعد نقاش استمر {n} ساعات.",
    "حذر نواب من أن وزارة الداخلية العراقية قد تقع تحت سيطرة الفصائل المسلحة.",
    "قال مسؤولون في بغداد إن وزير الداخلية الجديد مقرب من منظمة بدر.",
    "تجمع محتجون أمام مقر وزارة الداخلية في بغداد يوم {day}.",
)

FILLER_AR = (
    "وقال مصدر مطلع في {place_ar} إن المفاوضات مستمرة منذ {n} أيام.",
    "وأضاف المصدر أن الكتل السياسية لم تتفق بعد على تقاسم الحقائب.",
    "وشهدت مدينة {place_ar} انقطاعا في التيار الكهربائي استمر {n} ساعات.",
    "ويأتي ذلك وسط توتر متزايد بين الفصائل والحكومة في العراق.",
)

PMF_AR = (
    "قال قيادي في الحشد الشعبي إن {n} مقاتلا أعيد نشرهم قرب {place_ar}.",
    "نفت هيئة الحشد الشعبي أي علاقة لها بالهجوم الذي وقع في {place_ar}.",
)

PLACES = (
    "Baghdad",
    "Basra",
    "Mosul",
    "Kirkuk",
    "Erbil",
    "Najaf",
    "Karbala",
    "Anbar",
    "Diyala",
    "Samarra",
    "Tikrit",
    "Fallujah",
    "Sulaymaniyah",
    "Nasiriyah",
    "Ramadi",
)
PLACES_AR = ("البصرة", "الموصل", "كركوك", "أربيل", "النجف", "كربلاء", "الأنبار", "ديالى")
OFFICIALS = (
    "A government spokesman",
    "A senior lawmaker",
    "The provincial governor",
    "A security official",
    "A ministry adviser",
    "An opposition MP",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        place=rng.choice(PLACES),
        place_ar=rng.choice(PLACES_AR),
        n=rng.randint(2, 90),
        official=rng.choice(OFFICIALS),
        day=rng.choice(DAYS),
    )


def _english(rng: random.Random, theme: tuple[str, ...], serial: int) -> tuple[str, ...]:
    sentences = [_fill(rng.choice(theme), rng) for _ in range(3)]
    sentences += [_fill(t, rng) for t in rng.sample(FILLER_EN, 5)]
    sentences.append(f"This is report number {serial} from our correspondents.")
    rng.shuffle(sentences)
    return (" ".join(sentences[:3]), " ".join(sentences[3:6]), " ".join(sentences[6:]))


def _arabic(rng: random.Random, theme: tuple[str, ...], serial: int) -> tuple[str, ...]:
    sentences = [_fill(t, rng) for t in rng.sample(theme, min(2, len(theme)))]
    sentences += [_fill(t, rng) for t in FILLER_AR]
    sentences.append(f"هذا هو التقرير رقم {serial} من مراسلينا.")
    rng.shuffle(sentences)
    return (" ".join(sentences[:3]), " ".join(sentences[3:]))


def _title(rng: random.Random, theme: str, serial: int) -> str:
    place = rng.choice(PLACES)
    subject = {
        "pmf": "PMF leaders",
        "kataib": "Kata'ib Hezbollah",
        "khazali": "Khazali",
        "us_troops": "US troops in Iraq",
        "soleimani": "Quds Force",
        "peshmerga": "Peshmerga",
        "isis": "ISIS cell",
        "interior": "Interior Ministry",
    }[theme]
    verb = rng.choice(
        (
            "in the spotlight in",
            "draws criticism in",
            "makes headlines in",
            "at the centre of talks in",
            "faces questions in",
        )
    )
    return f"{subject} {verb} {place}, report {serial}"


def history(now: datetime, days: int = 14, per_day: int = 26, seed: int = 7) -> list[DemoArticle]:
    """Ordinary coverage: ``per_day`` stories a day over ``days`` days before the last 3 hours,
    more by day than by night, and now and then a story about the Interior Ministry."""
    rng = random.Random(seed)
    articles: list[DemoArticle] = []
    themes = list(THEMES_EN)
    serial = 0
    for day in range(days, 0, -1):
        for _ in range(per_day):
            hour = rng.choices(range(24), weights=[1] * 6 + [3] * 14 + [2] * 4)[0]
            published = (now - timedelta(days=day, hours=3)).replace(
                hour=hour, minute=rng.randint(0, 59), second=0, microsecond=0
            )
            serial += 1
            outlet = rng.randrange(len(OUTLETS))
            if rng.random() < 0.04:
                theme = "interior"
                paragraphs = _english(rng, INTERIOR_EN, serial)
            else:
                theme = rng.choice(themes)
                paragraphs = _english(rng, THEMES_EN[theme], serial)
            language = "en"
            title = _title(rng, theme, serial)
            if rng.random() < 0.2:
                language = "ar"
                paragraphs = _arabic(rng, PMF_AR, serial)
                title = f"الحشد الشعبي: تطورات جديدة في {rng.choice(PLACES_AR)} - تقرير {serial}"
            articles.append(
                DemoArticle(outlet, f"story-{serial}", title, paragraphs, language, published)
            )
    return articles


def burst(now: datetime, stories: int = 14, seed: int = 11) -> list[DemoArticle]:
    """Many outlets reporting on the Interior Ministry in the last two hours, in English
    and Arabic, plus two wire copies of one of the stories (which count once)."""
    rng = random.Random(seed)
    articles: list[DemoArticle] = []
    for n in range(stories):
        published = now - timedelta(minutes=rng.randint(5, 110))
        outlet = n % len(OUTLETS)
        serial = 9000 + n
        if n % 3 == 2:
            paragraphs = _arabic(rng, INTERIOR_AR, serial)
            title = f"جدل في بغداد حول وزارة الداخلية - تقرير {serial}"
            language = "ar"
        else:
            paragraphs = _english(rng, INTERIOR_EN, serial)
            title = _title(rng, "interior", serial)
            language = "en"
        articles.append(
            DemoArticle(outlet, f"breaking-{serial}", title, paragraphs, language, published)
        )
    wire = articles[0]
    for copy, outlet in enumerate((3, 4)):
        articles.append(
            DemoArticle(
                outlet,
                f"wire-copy-{copy}",
                wire.title,
                wire.paragraphs,
                wire.language,
                wire.published + timedelta(minutes=3),
            )
        )
    return articles
