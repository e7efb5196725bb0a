"""Regenerate the parameter table of docs/ODD.md from kamabm.params.Parameters."""

import re
from pathlib import Path

from kamabm.params import Parameters

ODD = Path(__file__).resolve().parent.parent / "docs" / "ODD.md"
BEGIN, END = "<!-- parameters:begin -->", "<!-- parameters:end -->"


def main() -> None:
    text = ODD.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{Parameters.markdown_table()}\n{END}"
    text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    ODD.write_text(text, encoding="utf-8")
    print(f"updated {ODD}")


if __name__ == "__main__":
    main()
