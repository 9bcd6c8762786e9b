"""Tables (CSV, TSV, Parquet, JSON written by pandas, JSON rows): one row -> one input record.

A table is read with pandas (imported only when a table is read). Which columns hold what comes
from `--columns FIELD=COLUMN,...` or, without it, from the column names (case-insensitive):

| shape | columns (required, then optional) | becomes |
|---|---|---|
| dpo      | prompt, chosen, rejected (system)   | a preference pair |
| kto      | prompt, completion, label (system)  | a KTO record |
| alpaca   | instruction, output (input, system) | one exchange (instruction + "\\n" + input) |
| exchange | prompt, response (system, label)    | one exchange; with a label, a KTO record |

The first shape whose required columns are all there wins, in this order. `--columns` is the whole
mapping (columns it does not name are not read); the column `id` is kept as the row's original id.
A row is built into a record of the matching JSON format (javis/data/formats/conversion.py checks
it as it checks any record), or rejected with its reason: `empty_cell` (a required cell that is
empty or null), `nan_cell` (NaN, or the text "NaN" pandas and spreadsheets write for a missing
value), `missing_column` (a JSON row without a column `--columns` names), `bad_label`,
`empty_row`.

Row numbers are the ones a spreadsheet shows: the header is row 1, the first record row 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from javis.data.formats.messages import ConvertError, as_answer, as_prompt, with_system

FIELDS = (
    "system",
    "prompt",
    "response",
    "instruction",
    "input",
    "output",
    "chosen",
    "rejected",
    "completion",
    "label",
)
# shape -> (required fields, optional fields); detection tries them in this order.
SHAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "dpo": (("prompt", "chosen", "rejected"), ("system",)),
    "kto": (("prompt", "completion", "label"), ("system",)),
    "alpaca": (("instruction", "output"), ("input", "system")),
    "exchange": (("prompt", "response"), ("system", "label")),
}
KNOWN_NAMES = (
    "instruction/input/output, prompt/response, prompt/chosen/rejected, prompt/completion/label"
)
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}
KIND_NAMES = {"csv": "CSV", "tsv": "TSV", "parquet": "Parquet", "json-table": "JSON"}
PARQUET_MAGIC = b"PAR1"
LABELS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


class TableError(ValueError):
    """A table or a column mapping that cannot be read at all; the message says why and what to do."""


@dataclass(frozen=True)
class Mapping:
    """Which column holds each field, and the shape they make."""

    shape: str
    columns: dict[str, str]  # field -> column name

    def describe(self) -> str:
        """`prompt=question, response=answer`; a column named as its field appears once."""
        return ", ".join(f if f == c else f"{f}={c}" for f, c in self.columns.items())


def parse_columns(spec: str) -> Mapping:
    """`prompt=question,response=answer` -> a Mapping. Raises TableError saying what is wrong."""
    hint = (
        "expected FIELD=COLUMN[,FIELD=COLUMN...], e.g. --columns prompt=question,response=answer; "
        f"fields: {', '.join(FIELDS)}"
    )
    columns: dict[str, str] = {}
    for part in spec.split(","):
        field, sep, column = (s.strip() for s in part.partition("="))
        if not sep or not field or not column:
            raise TableError(f"--columns {spec!r}: {part.strip()!r} is not FIELD=COLUMN ({hint})")
        if field not in FIELDS:
            raise TableError(f"--columns {spec!r}: unknown field {field!r} ({hint})")
        if field in columns:
            raise TableError(f"--columns {spec!r}: {field!r} is given twice")
        columns[field] = column
    shape = shape_of(set(columns))
    if shape is None:
        raise TableError(
            f"--columns {spec!r}: the fields {', '.join(columns)} make no known shape; give one of "
            + "; ".join(
                f"{'+'.join(req)} (optional {', '.join(opt)})" for req, opt in SHAPES.values()
            )
        )
    return Mapping(shape, columns)


def shape_of(fields: set[str]) -> str | None:
    """The shape these fields make: all its required fields and nothing outside it."""
    for shape, (req, opt) in SHAPES.items():
        if set(req) <= fields <= set(req) | set(opt):
            return shape
    return None


def known_mapping(columns: list[str]) -> Mapping | None:
    """The mapping the column names give (case-insensitive), or None when they give none."""
    by_name: dict[str, str] = {}
    for c in columns:
        by_name.setdefault(str(c).strip().lower(), str(c))
    for shape, (req, opt) in SHAPES.items():
        if all(f in by_name for f in req):
            fields = sorted(
                (f for f in (*req, *opt) if f in by_name), key=lambda f: columns.index(by_name[f])
            )  # in the table's order
            return Mapping(shape, {f: by_name[f] for f in fields})
    return None


def missing_columns(mapping: Mapping, columns: list[str]) -> str | None:
    """Why `mapping` does not fit a table with these columns (a column it names is absent)."""
    have = [str(c) for c in columns]
    lower = {c.lower(): c for c in have}
    missing = [c for c in mapping.columns.values() if c not in have]
    if not missing:
        return None
    hints = [
        f" (did you mean {lower[c.lower()]!r}?)" if c.lower() in lower else "" for c in missing
    ]
    named = ", ".join(f"{c!r}{h}" for c, h in zip(missing, hints, strict=True))
    return f"--columns names {named}, which the table does not have; its columns: {', '.join(have)}"


def suggestion(columns: list[str]) -> str:
    """An example --columns for a table with these columns."""
    if len(columns) >= 2:
        return f" (e.g. --columns prompt={columns[0]},response={columns[1]})"
    return ""


# --- reading ------------------------------------------------------------------------------------


def read_table(path: Path, kind: str) -> tuple[list[str], list[dict]]:
    """(columns, rows as plain dicts) of a CSV, TSV or Parquet file. Raises TableError."""
    import pandas as pd  # a table is the only thing that needs pandas: the other imports stay fast

    try:
        if kind == "parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(
                path,
                sep="\t" if kind == "tsv" else ",",
                dtype=str,
                keep_default_na=False,  # "NA", "null", "" stay text: the rules below decide
                skip_blank_lines=False,  # a blank line is a row: row numbers stay the spreadsheet's
                encoding="utf-8-sig",
            )
    except UnicodeDecodeError as e:
        raise TableError(
            f"not UTF-8 text (byte {e.start}): save it as UTF-8 {KIND_NAMES[kind]} "
            "(Excel: 'CSV UTF-8') and import again"
        ) from None
    except pd.errors.EmptyDataError:
        raise TableError("empty (no header and no rows)") from None
    except (pd.errors.ParserError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TableError(f"cannot be read as {KIND_NAMES[kind]} ({first})") from None
    return frame_rows(df, kind)


def frame_rows(df: Any, kind: str) -> tuple[list[str], list[dict]]:
    columns = [str(c) for c in df.columns]
    if df.empty:
        raise TableError(
            f"empty (a {KIND_NAMES[kind]} table with columns {', '.join(columns) or 'none'} "
            "and no rows)"
        )
    import pandas as pd

    # pandas reads a null in a text column as NaN: there it is an empty cell, not a number
    text_columns = [pd.api.types.is_string_dtype(df[c]) for c in df.columns]
    rows = [
        {
            str(k): None if is_text and is_nan(v) else plain(v)
            for k, v, is_text in zip(df.columns, values, text_columns, strict=True)
        }
        for values in df.itertuples(index=False, name=None)
    ]
    return columns, rows


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def frame_from_json(obj: dict) -> Any | None:
    """A DataFrame when `obj` is a table as pandas writes JSON (orient columns, index or split)."""
    import pandas as pd

    if set(obj) >= {"columns", "data"} and isinstance(obj["columns"], list):
        if isinstance(obj["data"], list) and all(isinstance(r, list) for r in obj["data"]):
            return pd.DataFrame(obj["data"], columns=obj["columns"])
        return None
    if not obj or not all(isinstance(v, dict) for v in obj.values()):
        return None
    inner = next(iter(obj.values()))
    if all(str(k).isdigit() for k in inner) and all(set(v) == set(inner) for v in obj.values()):
        return pd.DataFrame(obj)  # orient="columns" (DataFrame.to_json's default)
    if all(str(k).isdigit() for k in obj):
        return pd.DataFrame.from_dict(obj, orient="index")
    return None


def plain(value: Any) -> Any:
    """A cell as plain Python: numpy scalars and arrays (Parquet lists, structs) unwrapped."""
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()  # numpy arrays and scalars
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "isoformat"):  # a timestamp cell
        return value.isoformat()
    return value


# --- one row ------------------------------------------------------------------------------------


def row_record(row: dict, mapping: Mapping) -> tuple[dict, str]:
    """One row -> (a record in a known JSON format, that format). Raises ConvertError."""
    req, _ = SHAPES[mapping.shape]
    if all(is_blank(v) for v in row.values()):
        raise ConvertError("empty_row (every cell is empty)")
    cells: dict[str, Any] = {}
    for field, column in mapping.columns.items():
        if column not in row:
            keys = ", ".join(sorted(row)[:8]) or "none"
            raise ConvertError(f"missing_column (no {column!r} in this row; its keys: {keys})")
        value = cell(row[column], column, required=field in req)
        if value is not None:
            cells[field] = value if field == "label" else text(value)
    if "label" in cells:
        cells["label"] = as_label(cells["label"], mapping.columns["label"])
    system = {"system": cells["system"]} if isinstance(cells.get("system"), str) else {}
    if mapping.shape == "exchange":
        prompt = with_system(system, as_prompt(cells["prompt"], mapping.columns["prompt"]))
        answer = as_answer(cells["response"], mapping.columns["response"])
        if "label" in cells:
            return {"prompt": prompt, "completion": answer, "label": cells["label"]}, "kto"
        return {"messages": [*prompt, *answer]}, "chatml"
    return cells, mapping.shape


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def cell(value: Any, column: str, *, required: bool) -> Any:
    """A cell's value, None for an empty optional one; ConvertError for an empty required one."""
    if isinstance(value, float) and math.isnan(value):
        if required:
            raise ConvertError(f"nan_cell (column {column!r} is NaN)")
        return None
    if isinstance(value, str) and value.strip().lower() == "nan" and required:
        raise ConvertError(
            f"nan_cell (column {column!r} holds the text NaN, a missing value written by a "
            "spreadsheet or pandas)"
        )
    if value is None or (isinstance(value, str) and not value.strip()) or value in ([], {}):
        if required:
            raise ConvertError(f"empty_cell (column {column!r} is empty)")
        return None
    return value


def text(value: Any) -> Any:
    """A text field's value: a number (a Parquet or JSON numeric column) as its text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def as_label(value: Any, column: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in LABELS:
        return LABELS[value.strip().lower()]
    raise ConvertError(
        f"bad_label (column {column!r} is {value!r}; expected true/false, 1/0 or yes/no)"
    )
