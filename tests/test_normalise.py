"""The normaliser: every rule, the fast path agreeing with the general one, spans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchlist.normalise import _normalise_general, normalise, normalise_with_spans


@pytest.mark.parametrize(
    ("spellings", "expected"),
    [
        (["Asa'ib", "Asaib", "Asa’ib", "Asa‘ib", "Asaʼib", "Asaʻib", "Asa`ib", "Asa´ib"], "asaib"),
        (["Shaʿbi", "Shaʾbi", "Sha'bi"], "shabi"),
        (["al-Khazali", "al Khazali", "al–Khazali", "al—Khazali", "al‐Khazali"], "al khazali"),
        (["IRAQ", "Iraq", "ｉｒａｑ"], "iraq"),
        (["Qāsim Sulaymānī", "Qasim Sulaymani"], "qasim sulaymani"),
        (["Hezbollah's", "Hezbollah’s", "Hezbollah"], "hezbollah"),
        (["IMIS’", "IMIS"], "imis"),
        (["أحمد", "إحمد", "آحمد", "ٱحمد", "احمد"], "احمد"),
        (["مستشفى", "مستشفي"], "مستشفي"),
        (["الشعبية", "الشعبيه"], "الشعبيه"),
        (["سلیمانی", "سليماني"], "سليماني"),
        (["کردستان", "كردستان"], "كردستان"),
        (["مسؤول", "مسوول"], "مسوول"),
        (["رئيس", "رييس"], "رييس"),
        (["الحَشْدُ", "الحشـــد", "الحشد"], "الحشد"),
        (["٢٠١٩", "۲۰۱۹", "2019"], "2019"),
        (["حزب‌الله", "حزب\u200dالله", "حزب الله", "حزب\u200fالله"], "حزب الله"),
        (["ﻻ", "لا"], "لا"),
        (["inter\u00adior", "interior"], "interior"),
    ],
)
def test_spelling_variants_normalise_alike(spellings: list[str], expected: str) -> None:
    assert {normalise(s) for s in spellings} == {expected}


def test_punctuation_and_whitespace_collapse() -> None:
    assert normalise("  «Iraq»,\n\t(Baghdad)!!  ") == "iraq baghdad"
    assert normalise("العراق، بغداد؛ البصرة؟") == "العراق بغداد البصره"
    assert normalise("US_troops") == "us troops"


def test_possessive_only_at_word_end() -> None:
    assert normalise("Ma'sum") == "masum"
    assert normalise("Iran's") == "iran"


def test_nothing_left() -> None:
    assert normalise("!!! ' ـــ") == ""


def test_unusual_characters_take_the_general_path() -> None:
    assert normalise("Ünal «ΑΘΗΝΑ» Москва\u202bتست") == "unal αθηνα москва تست"


def test_spans_point_at_the_original_words() -> None:
    text = "Kata'ib  Hezbollah’s al-Khazali, والحشـد"
    result = normalise_with_spans(text)
    assert result.text == normalise(text)
    assert [text[a:b] for a, b in result.spans] == [
        "Kata'ib",
        "Hezbollah’s",
        "al",
        "Khazali",
        "والحشـد",
    ]
    assert text[slice(*result.span(2, 4))] == "al-Khazali"


NEWS_ALPHABET = st.sampled_from(
    list("abcdeiklmnoqrsuzAQIKH0123 ,.-'’()«»\n")
    + list("اأإآبتةثجحخدذرزسشصضطظعغفقكلمنهويىءؤئـًٌٍَُِّْ٠١٢۳")
    + list("پچژکگیۀ\u200c\u200f،؛؟éāḥ")
)
NEWS_TEXT = st.text(NEWS_ALPHABET, max_size=80)


@given(NEWS_TEXT)
def test_fast_path_agrees_with_general_path(text: str) -> None:
    assert normalise(text) == _normalise_general(text)


@given(st.text(max_size=60))
@settings(max_examples=300)
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@given(NEWS_TEXT)
def test_spans_agree_with_normalise(text: str) -> None:
    result = normalise_with_spans(text)
    assert result.text == normalise(text)
    assert len(result.spans) == len(result.words)
