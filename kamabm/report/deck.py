"""A slide deck of a report (``kamabm report DIR --deck``, ``kamabm diagnose --deck``).

The summary (or, given, a verdict of three or four bullets) first, then one chart a slide,
then (given) a recommendations slide. Needs the optional extra ``kamabm[deck]``
(python-pptx). Slides are 16:9; a chart slide holds the chart's PNG, which carries its
own title, scaled to fit, with the caption underneath and in the speaker notes (the
title is not repeated on the slide).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from kamabm.report.charts.base import Chart
from kamabm.report.summary import Summary

#: Slide size (16:9) and margins, in inches.
WIDTH, HEIGHT, MARGIN = 13.333, 7.5, 0.45
TITLE_HEIGHT, CAPTION_HEIGHT = 0.9, 0.75
#: Font size of a verdict's or recommendations' bullets (points), and the smaller size
#: used when their text is longer than :data:`LONG_BULLETS` characters.
BULLET_SIZE, SMALL_BULLET_SIZE, LONG_BULLETS = 20, 16, 700


class DeckError(RuntimeError):
    """The deck cannot be written (python-pptx missing); the message says what to do."""


def available() -> bool:
    """Whether python-pptx is installed."""
    try:
        import pptx  # noqa: F401
    except ImportError:
        return False
    return True


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, from its header."""
    with path.open("rb") as handle:
        head = handle.read(24)
    return struct.unpack(">II", head[16:24])


def _text(slide, left, top, width, height, lines: Sequence[str], size: int,
          bold: bool = False) -> None:
    from pptx.enum.text import MSO_AUTO_SIZE
    from pptx.util import Inches, Pt

    frame = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width),
                                     Inches(height)).text_frame
    frame.word_wrap = True
    frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE  # viewers shrink text that overflows
    for i, line in enumerate(lines):
        para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        para.text = line
        para.font.size = Pt(size)
        para.font.bold = bold


def _bullets(deck, title: str, lines: Sequence[str]) -> None:
    """A slide with ``title`` and one bullet per line."""
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    inner = WIDTH - 2 * MARGIN
    _text(slide, MARGIN, MARGIN, inner, TITLE_HEIGHT, [title], 28, bold=True)
    size = BULLET_SIZE if len(" ".join(lines)) < LONG_BULLETS else SMALL_BULLET_SIZE
    _text(slide, MARGIN, MARGIN + TITLE_HEIGHT, inner, HEIGHT - 2 * MARGIN - TITLE_HEIGHT,
          [f"\u2022 {line}" for line in lines], size)


def write_deck(title: str, summary: Summary, charts: Sequence[Chart],
               path: str | Path, *, verdict: Sequence[str] | None = None,
               recommendations: Sequence[str] | None = None) -> Path:
    """Write a 16:9 deck: a summary (or verdict) slide, a slide a chart, recommendations.

    Args:
        title: the deck's title (the experiment, the client).
        summary: the executive summary (:func:`kamabm.report.summary.executive_summary`);
            its status quo goes to the first slide's notes when ``verdict`` is given.
        charts: the charts, each with its PNG.
        path: the ``.pptx`` file to write.
        verdict: the first slide's bullets instead of the summary (three or four lines).
        recommendations: bullets of a last slide, "Recommendations".

    Raises:
        DeckError: python-pptx is not installed.

    """
    try:
        from pptx import Presentation
        from pptx.util import Inches
    except ImportError:
        raise DeckError("the slide deck needs python-pptx: pip install -e '.[deck]'") from None
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(WIDTH), Inches(HEIGHT)
    blank = deck.slide_layouts[6]
    inner = WIDTH - 2 * MARGIN

    if verdict is not None:
        _bullets(deck, title, verdict)
        deck.slides[0].notes_slide.notes_text_frame.text = "\n".join(
            [summary.status_quo, *(f"Note: {n}." for n in summary.notes)])
    else:
        slide = deck.slides.add_slide(blank)
        _text(slide, MARGIN, MARGIN, inner, TITLE_HEIGHT, [title], 28, bold=True)
        lines = [summary.status_quo, *(f"\u2022 {p}" for p in summary.points),
                 *(f"Note: {n}." for n in summary.notes)]
        _text(slide, MARGIN, MARGIN + TITLE_HEIGHT, inner,
              HEIGHT - 2 * MARGIN - TITLE_HEIGHT, lines,
              16 if len(" ".join(lines)) < 700 else 13 if len(" ".join(lines)) < 1300
              else 10)

    for chart in charts:
        slide = deck.slides.add_slide(blank)
        top = MARGIN * 0.6  # the PNG carries the chart's title
        room_w, room_h = inner, HEIGHT - top - CAPTION_HEIGHT - MARGIN * 0.6
        w, h = _png_size(chart.png)
        scale = min(room_w / w, room_h / h)
        left = MARGIN + (room_w - w * scale) / 2
        slide.shapes.add_picture(str(chart.png), Inches(left), Inches(top),
                                 Inches(w * scale), Inches(h * scale))
        words = chart.finding if chart.finding and chart.finding != chart.title else ""
        _text(slide, MARGIN, HEIGHT - CAPTION_HEIGHT - MARGIN * 0.4, inner, CAPTION_HEIGHT,
              [" ".join(filter(None, [words + "." if words else "", chart.caption]))], 10)
        slide.notes_slide.notes_text_frame.text = "\n".join(
            filter(None, [chart.title, words, chart.caption]))
    if recommendations is not None:
        _bullets(deck, "Recommendations", recommendations)
    path = Path(path)
    deck.save(str(path))
    return path
