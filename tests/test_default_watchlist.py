"""The shipped config.toml watch-list against sample sentences (positives and look-alikes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.load import load_config
from watchlist.matcher import Watchlist

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    config = load_config(ROOT / "config.toml", environ={})
    return Watchlist(config.clusters)


def test_ships_sources_and_clusters() -> None:
    config = load_config(ROOT / "config.toml", environ={})
    assert len(config.sources) >= 30
    assert 15 <= len(config.clusters) <= 20
    kinds = {source.kind for source in config.sources}
    assert kinds == {"feed", "sitemap", "telegram", "html"}
    urls = " ".join(source.url for source in config.sources)
    assert "hl=ar&gl=IQ&ceid=IQ:ar" in urls and "hl=en-US&gl=US&ceid=US:en" in urls
    assert "api.gdeltproject.org/api/v2/doc/doc" in urls and "mode=ArtList&format=rss" in urls


POSITIVES = [
    # English
    ("Iraq's Popular Mobilisation Forces deployed near Tikrit.", "PMF"),
    ("Fighters of al-Hashd al-Sha'bi entered the town.", "PMF"),
    ("The PMF said its units in Iraq were on alert.", "PMF"),
    ("In Iraq, Iran-supported IMIS militias remain the primary threat.", "IMIS"),
    ("Iran-backed militias fired rockets at the base.", "IMIS"),
    ("Factions demand the Interior Ministry in Baghdad's next cabinet.", "Interior Ministry"),
    ("Kais al-Khaz'ali praised the fighters.", "Asaib Ahl al-Haq"),
    ("Qays Khazali, head of Asa’ib Ahl al-Haq, spoke.", "Asaib Ahl al-Haq"),
    ("Kataib Hezbollah denied involvement.", "Kataib Hezbollah"),
    ("Hadi al-Ameri's Badr Organisation joined the talks.", "Badr"),
    ("A Quds Force commander visited.", "Quds Force"),
    ("Ghasem Soleimani met the factions.", "Soleimani"),
    ("Esmail Qaani arrived in Baghdad.", "Soleimani"),
    ("Hezbollah’s Hassan Nasrallah warned Israel.", "Hezbollah"),
    ("Rockets hit a base hosting US troops in western Iraq.", "US troops in Iraq"),
    ("The 2019 Worldwide Threat Assessment was published.", "DNI threat assessment"),
    ("Remnants of Daesh attacked a checkpoint.", "ISIS"),
    ("ISIS’s emergence was no accident.", "ISIS"),
    ("Peshmerga forces took positions near Kirkuk.", "Peshmerga"),
    ("The KDP won the most seats in Kurdistan.", "Peshmerga"),
    ("The Iraqi Army launched an operation.", "Iraqi Army"),
    ("Thousands of protesters took to the streets of Basra.", "Basra protests"),
    (
        "Israeli airstrikes hit targets near Damascus, Syria's state media said.",
        "Israeli strikes in Syria",
    ),
    ("The Fatemiyoun Division fought near Aleppo.", "Fatemiyoun"),
    (
        "Lebanon's prime minister-designate is struggling to form a government.",
        "Lebanon government",
    ),
    # Arabic
    ("وأعلنت هيئة الحشد الشعبي اليوم", "PMF"),
    ("قال مسؤول في الحشد الشعبيّ إن", "PMF"),
    ("تطالب الفصائل بوزارة الداخلية في الحكومة العراقية", "Interior Ministry"),
    ("وقال الأمين العام لعصائب أهل الحق قيس الخزعلي", "Asaib Ahl al-Haq"),
    ("أصدرت كتائب حزب الله بياناً", "Kataib Hezbollah"),
    ("وصل قائد فيلق القدس إسماعيل قاآني إلى بغداد", "Quds Force"),
    ("اغتيال قاسم سليماني قرب مطار بغداد", "Soleimani"),
    ("حذر الأمين العام لحزب الله حسن نصر الله", "Hezbollah"),
    ("هجوم على قاعدة عين الأسد التي تضم القوات الأمريكية في العراق", "US troops in Iraq"),
    ("هاجم عناصر من داعش قرية في ديالى", "ISIS"),
    ("انتشرت قوات البيشمركة في كركوك", "Peshmerga"),
    ("خرجت تظاهرات غاضبة في البصرة", "Basra protests"),
    ("غارات إسرائيلية على مواقع قرب دمشق في سوريا", "Israeli strikes in Syria"),
    ("تعثر تشكيل الحكومة في لبنان", "Lebanon government"),
    # Persian
    ("فرمانده نیروی قدس سپاه پاسداران", "Quds Force"),
    ("سردار قاسم سلیمانی در بغداد کشته شد", "Soleimani"),
    ("سید حسن نصرالله دبیرکل حزب‌الله لبنان", "Hezbollah"),
    ("نیروهای لشکر فاطمیون در سوریه", "Fatemiyoun"),
    ("حشد الشعبی عراق اعلام کرد", "PMF"),
    ("نیروهای آمریکایی در عراق هدف قرار گرفتند", "US troops in Iraq"),
    ("قیس خزعلی دبیرکل عصائب اهل الحق", "Asaib Ahl al-Haq"),
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_positive_samples(watchlist: Watchlist, text: str, expected: str) -> None:
    assert expected in [m.name for m in watchlist.match(text)]


NEGATIVES = [
    ("France's Interior Ministry banned the march in Paris.", "Interior Ministry"),
    ("وزارة الداخلية المصرية تعلن ضبط عصابة في القاهرة", "Interior Ministry"),
    ("Our PMF consultants deliver project management training.", "PMF"),
    ("The new IMIS release improves the payroll module.", "IMIS"),
    ("Kata'ib Hezbollah threatened US forces.", "Hezbollah"),
    ("كتائب حزب الله تتوعد", "Hezbollah"),
    ("Harakat Hezbollah al-Nujaba claimed the attack.", "Hezbollah"),
    ("KDP Select lets authors publish on Kindle.", "Peshmerga"),
    ("The crisis deepened in Athens.", "ISIS"),
    ("US troops held exercises in Poland.", "US troops in Iraq"),
    ("Basra's port handled record grain shipments.", "Basra protests"),
    (
        "Protests in Paris turned violent." + " Elsewhere," * 20 + " Basra port grew.",
        "Basra protests",
    ),
    ("Israeli strikes in Gaza killed dozens.", "Israeli strikes in Syria"),
    ("Jerusalem (القدس) hosted the summit.", "Quds Force"),
    ("Sulaimani city hosted a book fair.", "Soleimani"),
    ("Jordan formed a new government.", "Lebanon government"),
    ("شهدت القدس احتفالات", "Quds Force"),
    ("He is the director of national parks.", "DNI threat assessment"),
]


@pytest.mark.parametrize(("text", "unexpected"), NEGATIVES)
def test_look_alike_samples(watchlist: Watchlist, text: str, unexpected: str) -> None:
    assert unexpected not in [m.name for m in watchlist.match(text)]


def test_seed_article(watchlist: Watchlist) -> None:
    seed = next((ROOT.parent / "shared" / "seed").glob("*.txt"), None)
    if seed is None:
        pytest.skip("seed article not available")
    found = {m.name for m in watchlist.match(seed.read_text(encoding="utf-8"))}
    assert {
        "IMIS",
        "Interior Ministry",
        "Asaib Ahl al-Haq",
        "Quds Force",
        "Soleimani",
        "Hezbollah",
        "US troops in Iraq",
        "DNI threat assessment",
        "ISIS",
        "Peshmerga",
        "Iraqi Army",
    } <= found
