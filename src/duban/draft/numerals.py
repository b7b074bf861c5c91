"""Numbers written in Chinese or Arabic digits: 十二 -> 12, 两 -> 2, 9.5 -> 9.5."""

from __future__ import annotations

import re

CN_NUMBER = "〇零一二两三四五六七八九十百"
NUMBER = rf"(?:\d+(?:\.\d+)?|[{CN_NUMBER}]{{1,4}})"
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_ONE_CHAR = {c: float(i) for i, c in enumerate("〇一二三四五六七八九十")} | {"两": 2.0, "零": 0.0}


def to_number(text: str) -> float:
    """The value of a numeral; raises ValueError when it is none."""
    if _DIGITS.fullmatch(text):
        return float(text)
    if text in _ONE_CHAR:
        return _ONE_CHAR[text]
    import cn2an  # 0.4 s to import: only for plans that write numerals in Chinese

    # cn2an reads only the numeral itself: its in-sentence transform would also rewrite words
    # such as 一卡一册 or 返乡一人, which the quotes must keep verbatim.
    return float(cn2an.cn2an(text, "smart"))


def to_int(text: str) -> int:
    """A whole number from a numeral (month, day, count)."""
    value = to_number(text)
    if value != int(value):
        raise ValueError(f"not a whole number: {text}")
    return int(value)
