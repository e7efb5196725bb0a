"""Regenerate the parameter, constants, outcome and calibrated-constant tables of docs/ODD.md."""

import re
from pathlib import Path

from kamabm.model.doc_tables import (
    calibrated_table,
    calibration_targets_table,
    constants_table,
    outcome_table,
    parameter_table,
)

ODD = Path(__file__).resolve().parent.parent / "docs" / "ODD.md"
TABLES = {"parameters": parameter_table, "constants": constants_table,
          "outcomes": outcome_table, "calibrated": calibrated_table,
          "calibration-targets": calibration_targets_table}


def main() -> None:
    text = ODD.read_text(encoding="utf-8")
    for name, table in TABLES.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        if begin not in text:
            raise SystemExit(f"{ODD}: no {begin} marker")
        block = f"{begin}\n{table()}\n{end}"
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _, b=block: b, text,
                      flags=re.S)
    ODD.write_text(text, encoding="utf-8")
    print(f"updated {ODD}")


if __name__ == "__main__":
    main()
