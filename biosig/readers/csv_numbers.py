"""Numbers a table holds as text: decimal commas, thousands separators and the spellings of a gap.

A CSV column that polars does not read as numbers (quoted fields with a decimal comma in a
comma-separated file, ``"1,125.5"`` with a thousands comma, a ``-`` for a missing value) comes to
the table reader (:mod:`.tables`) as text; :func:`parse_numbers` reads it when every value says
its number beyond doubt, else names the first value that does not and why:

* gaps: an empty field and :data:`NULL_VALUES` (``NaN``, ``NA``, ``N/A``, ``#N/A``, ``-``);
* the decimal mark is the table's (:mod:`.csv_dialect`): a decimal point among decimal commas (or
  the reverse: ``0,125`` in a table of points) is refused, never read 1000 times off;
* a thousands separator (``,`` with a decimal point, ``.`` with a decimal comma) in groups of three
  digits is dropped where a value of the same column carries both marks (``1,125.5``): an integer
  alone (``1,125``) could be 1125 or 1.125, so a column of only those is refused.
"""
from __future__ import annotations

#: Field texts read as a gap (NaN): polars' ``null_values`` for biosig's tables, and the same here.
NULL_VALUES = ("", "NA", "nan", "NaN", "-", "N/A", "n/a", "#N/A")


def _grouped(group: str, point: str, with_fraction: bool) -> str:
    """A regex of a number with thousands separator ``group`` and decimal mark ``point``."""
    g, p = "\\" + group, "\\" + point
    return rf"^[-+]?[1-9]\d{{0,2}}({g}\d{{3}})+" + (rf"{p}\d+$" if with_fraction else "$")


def parse_numbers(series, decimal_comma: bool = False, csv: bool = True):
    """(numbers, bad, why) of the text column ``series``: a Float64 series (gaps null) and ``bad`` empty
    where every value is a number or a gap; else ``numbers`` None, ``bad`` the rows of the values that
    are not and ``why`` a few words on the first (``""`` when it is simply no number). ``csv`` False (text
    of a Parquet table, not exported by hand): numbers as polars reads them alone, only null a gap."""
    import polars as pl

    text = series.cast(pl.String).str.strip_chars()
    if not csv:
        numbers = text.cast(pl.Float64, strict=False)
        bad = (text.is_not_null() & numbers.is_null()).arg_true().to_list()
        return (None, bad, "") if bad else (numbers, bad, "")
    text = text.str.strip_chars('"').str.strip_chars()
    gap = text.is_null() | text.is_in(list(NULL_VALUES))
    point, group = (",", ".") if decimal_comma else (".", ",")
    both = text.str.contains(_grouped(group, point, True))
    grouped = both | (both.any() & text.str.contains(_grouped(group, point, False)))
    plain = text.zip_with(~grouped, text.str.replace_all(group, "", literal=True))
    other_mark = plain.str.contains(group, literal=True) & ~grouped
    if decimal_comma:
        plain = plain.str.replace_all(",", ".", literal=True)
    numbers = plain.zip_with(~(gap | other_mark), pl.Series([None] * len(plain), dtype=pl.String))
    numbers = numbers.cast(pl.Float64, strict=False).rename(series.name)
    bad = (~gap & numbers.is_null()).arg_true().to_list()
    if not bad:
        return numbers, bad, ""
    i = bad[0]
    why = ""
    if other_mark[i]:
        if group == "," and text.str.contains(r"^[-+]?[1-9]\d{0,2}(,\d{3})+$")[i]:
            why = "a thousands comma or a decimal comma? write numbers without thousands separators"
        else:
            why = (f"a decimal {'point' if decimal_comma else 'comma'} among decimal "
                   f"{'commas' if decimal_comma else 'points'}: write every number with one decimal mark")
    return None, bad, why
