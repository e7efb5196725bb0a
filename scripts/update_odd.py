"""Regenerate the parameter and constants tables of docs/ODD.md from kamabm.model.params."""

import re
from pathlib import Path

from kamabm.model.params import Parameters

ODD = Path(__file__).resolve().parent.parent / "docs" / "ODD.md"
TABLES = {"parameters": Parameters.markdown_table, "constants": Parameters.constants_table}


def main() -> None:
    text = ODD.read_text(encoding="utf-8")
    for name, table in TABLES.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        block = f"{begin}\n{table()}\n{end}"
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _, b=block: b, text,
                      flags=re.S)
    ODD.write_text(text, encoding="utf-8")
    print(f"updated {ODD}")


if __name__ == "__main__":
    main()
