"""The statement PDF drawn with fpdf2: header, summary, every line under a header row repeated on each page, the
footnote, and "page / pages" with the statement's number in every page's footer.

WeasyPrint laid out about 5 ms a line and language (a box per cell); here each row is a few text operations at
fixed positions, about 0.3 ms a line. Rows are one line high (a label too wide for its column is set in a
smaller size), so a page break is a comparison, not a layout. The lines are read from the database in batches
(an iterator); fpdf2 keeps only each page's drawing operations (a few kilobytes a page) until the document is
written. The fonts (DejaVu Sans, as the portal's pages) are bundled in ``rebates/fonts`` so a PDF does not depend
on the machine's fonts; fpdf2 embeds only the glyphs used.
"""

import copy
import functools
import io
from pathlib import Path

from django.template.defaultfilters import floatformat
from django.utils import formats
from django.utils.translation import gettext as _

from deals.models import OrderLine
from portal.money import money_text

from .models import Component

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
LINES_BATCH = 2000

INK = (17, 24, 39)
MUTED = (107, 114, 128)
BLUE = (0, 118, 206)
DARK_BLUE = (11, 61, 102)
ADJUSTMENT = (146, 64, 14)
HEAD_FILL = (243, 244, 246)
HEAD_RULE = (156, 163, 175)
ROW_RULE = (229, 231, 235)

MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 14, 18, 18  # mm, as the WeasyPrint page
LINE_SIZE = 7  # pt, the lines table
ROW_H = 4.6  # mm
BODY_SIZE = 9
# (width share, right aligned) of each column of the lines table.
COLUMNS = ((0.14, False), (0.05, True), (0.13, False), (0.12, False), (0.13, True), (0.08, False), (0.15, False),
           (0.08, True), (0.12, True))  # fmt: skip
PAD = 1.2  # mm inside a cell
# Replaced by the page count when the document is written: as wide as any count, so no warning and no overlap.
PAGES_ALIAS = "{pages_total}"


def _fpdf_class():
    from fpdf import FPDF

    class StatementPdf(FPDF):
        number = ""
        lines_header = None  # the lines table's header labels once the table has started

        def header(self):
            if self.lines_header is not None:
                self.set_y(MARGIN_TOP)
                _lines_header(self, self.lines_header)

        def footer(self):
            self.set_y(-MARGIN_BOTTOM + 6)
            self.set_font(FONT, "", 8)
            self.set_text_color(*MUTED)
            self.cell(0, 4, self.number, align="L")
            self.set_x(MARGIN_X)
            self.cell(0, 4, f"{self.page_no()} / {PAGES_ALIAS}", align="R")

    return StatementPdf


@functools.cache
def _pdf_class():
    return _fpdf_class()


# What a row of the lines table shows, read as tuples (no model instances: five of them a line cost more than
# drawing it).
LINE_FIELDS = (
    "order_line__order__number", "order_line__line_number", "order_line__product_line", "order_line__booked_on",
    "net_amount", "tier__name", "component", "rate", "amount", "is_adjustment",
)  # fmt: skip

FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}


@functools.cache
def _font_template(style: str):
    """fpdf2's font object for ``style``, parsed once per process (its metrics and character map: ≈ 0.5 s a font,
    which every statement paid when each document added its fonts), and the file's bytes."""
    from fpdf import FPDF

    path = FONTS / FONT_FILES[style]
    scratch = FPDF()
    scratch.add_font(FONT, style, str(path))
    return scratch.fonts[f"{FONT.lower()}{style}"], path.read_bytes()


def _font(index: int, style: str):
    """A font object for one document: the parsed metrics shared (read only), with its own font file object and
    glyph subset, since writing the document subsets the file object in place."""
    from fontTools import ttLib
    from fpdf.fonts import SubsetMap

    template, data = _font_template(style)
    font = copy.copy(template)
    font.i = index
    font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)
    font.cw = copy.copy(template.cw)
    font.glyph_ids = dict(template.glyph_ids)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    return font


def _new_pdf(number: str):
    pdf = _pdf_class()(orientation="P", unit="mm", format="A4")
    pdf.set_compression(True)
    pdf.set_creator("Partner portal")
    pdf.set_title(number)
    pdf.number = number
    pdf.set_margins(MARGIN_X, MARGIN_TOP, MARGIN_X)
    pdf.set_auto_page_break(True, MARGIN_BOTTOM)
    for style in ("", "B"):
        pdf.fonts[f"{FONT.lower()}{style}"] = _font(len(pdf.fonts) + 1, style)
    pdf.alias_nb_pages(PAGES_ALIAS)
    return pdf


def _column_edges(pdf):
    width = pdf.w - 2 * MARGIN_X
    edges, x = [], MARGIN_X
    for share, right in COLUMNS:
        edges.append((x, share * width, right))
        x += share * width
    return edges


def _fitted(pdf, text: str, width: float, size: float, cache: dict) -> float:
    """The font size at which ``text`` fits ``width`` (the table's size, or smaller for a long label)."""
    key = (text, pdf.font_style, size)
    found = cache.get(key)
    if found is None:
        found = size
        while found > 4 and pdf.get_string_width(text) * found / pdf.font_size_pt > width - 2 * PAD:
            found -= 0.5
        cache[key] = found
    return found


def _row(pdf, edges, cells, *, baseline: float, size: float, fits: dict) -> None:
    for (x, width, right), text in zip(edges, cells, strict=True):
        if not text:
            continue
        fitted = _fitted(pdf, text, width, size, fits)
        if fitted != size:
            pdf.set_font_size(fitted)
        if right:
            pdf.text(x + width - PAD - pdf.get_string_width(text), baseline, text)
        else:
            pdf.text(x + PAD, baseline, text)
        if fitted != size:
            pdf.set_font_size(size)


def _lines_header(pdf, labels) -> None:
    edges = _column_edges(pdf)
    y = pdf.get_y()
    pdf.set_fill_color(*HEAD_FILL)
    pdf.rect(MARGIN_X, y, pdf.w - 2 * MARGIN_X, ROW_H + 0.6, style="F")
    pdf.set_draw_color(*HEAD_RULE)
    pdf.set_line_width(0.35)
    pdf.line(MARGIN_X, y + ROW_H + 0.6, pdf.w - MARGIN_X, y + ROW_H + 0.6)
    pdf.set_font(FONT, "B", LINE_SIZE)
    pdf.set_text_color(*INK)
    _row(pdf, edges, labels, baseline=y + ROW_H - 1.2, size=LINE_SIZE, fits=pdf.header_fits)
    pdf.set_font(FONT, "", LINE_SIZE)
    pdf.set_draw_color(*ROW_RULE)
    pdf.set_line_width(0.18)
    pdf.set_y(y + ROW_H + 0.6)


def _summary_table(pdf, x, width, title, head, rows, total) -> float:
    """One summary table at ``x`` from the current y; returns the y below it."""
    y = pdf.get_y()
    pdf.set_xy(x, y)
    pdf.set_font(FONT, "B", 11)
    pdf.set_text_color(*DARK_BLUE)
    pdf.cell(width, 7, title, new_x="LEFT", new_y="NEXT")
    edges = [(x, width * 0.5, False), (x + width * 0.5, width * 0.2, True), (x + width * 0.7, width * 0.3, True)]
    y = pdf.get_y()
    pdf.set_fill_color(*HEAD_FILL)
    pdf.rect(x, y, width, 6, style="F")
    pdf.set_draw_color(*HEAD_RULE)
    pdf.set_line_width(0.35)
    pdf.line(x, y + 6, x + width, y + 6)
    pdf.set_text_color(*INK)
    pdf.set_font(FONT, "B", BODY_SIZE)
    fits = {}
    _row(pdf, edges, head, baseline=y + 4.3, size=BODY_SIZE, fits=fits)
    y += 6
    pdf.set_font(FONT, "", BODY_SIZE)
    pdf.set_draw_color(*ROW_RULE)
    pdf.set_line_width(0.18)
    for row in rows:
        _row(pdf, edges, row, baseline=y + 4.3, size=BODY_SIZE, fits=fits)
        y += 6
        pdf.line(x, y, x + width, y)
    pdf.set_draw_color(*INK)
    pdf.set_line_width(0.35)
    pdf.line(x, y, x + width, y)
    pdf.set_font(FONT, "B", BODY_SIZE)
    _row(pdf, edges, (_("Total"), "", total), baseline=y + 4.3, size=BODY_SIZE, fits=fits)
    return y + 6


def _first_page(pdf, statement, partner, summary) -> None:
    width = pdf.w - 2 * MARGIN_X
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 16)
    pdf.set_text_color(*BLUE)
    pdf.cell(width * 0.55, 8, _("Rebate statement"), new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT, "", BODY_SIZE)
    pdf.set_text_color(*INK)
    pdf.multi_cell(width * 0.55, 4.5, f"{partner.name} ({partner.code})", new_x="LEFT", new_y="NEXT")
    left_bottom = pdf.get_y()
    status = statement.get_status_display()
    if statement.paid_on:
        status += f" ({formats.date_format(statement.paid_on, 'DATE_FORMAT')}, {statement.payment_reference})"
    meta = [
        f"{_('Quarter')}: {statement.quarter}",
        f"{_('Issued on')}: {formats.date_format(statement.issued_on, 'DATE_FORMAT')}",
        f"{_('Status')}: {status}",
    ]
    pdf.set_xy(MARGIN_X + width * 0.45, top)
    pdf.set_font(FONT, "B", BODY_SIZE)
    pdf.cell(width * 0.55, 4.5, statement.number, align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT, "", BODY_SIZE)
    for text in meta:
        pdf.multi_cell(width * 0.55, 4.5, text, align="R", new_x="LEFT", new_y="NEXT")
    y = max(left_bottom, pdf.get_y()) + 3
    pdf.set_draw_color(*BLUE)
    pdf.set_line_width(1.06)
    pdf.line(MARGIN_X, y, pdf.w - MARGIN_X, y)
    pdf.set_xy(MARGIN_X, y + 5)
    pdf.cell(0, 5, _("Total rebate"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 20)
    total = money_text(statement.total)
    pdf.cell(pdf.get_string_width(total) + 2, 10, total)
    pdf.set_font(FONT, "", BODY_SIZE)
    pdf.set_text_color(*MUTED)
    note = "— " + _("%(lines)s rebate lines") % {"lines": statement.line_count}
    if summary.adjustments:
        note += f", {_('of which prior-period adjustments')} {money_text(summary.adjustments)}"
    pdf.multi_cell(0, 10, note, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    half = (width - 5.6) / 2
    start = pdf.get_y()
    left = _summary_table(
        pdf, MARGIN_X, half, _("By component"), (_("Component"), _("Lines"), _("Amount")),
        [(row["label"], str(row["count"]), floatformat(row["amount"], "2g")) for row in summary.by_component],
        money_text(summary.total),
    )  # fmt: skip
    pdf.set_y(start)
    right = _summary_table(
        pdf, MARGIN_X + half + 5.6, half, _("By product line"), (_("Product line"), _("Net amount"), _("Rebate")),
        [(row["label"], floatformat(row["net"], "2g"), floatformat(row["amount"], "2g"))
         for row in summary.by_product_line],
        money_text(summary.total),
    )  # fmt: skip
    pdf.set_xy(MARGIN_X, max(left, right) + 5)
    pdf.set_font(FONT, "B", 11)
    pdf.set_text_color(*DARK_BLUE)
    pdf.cell(0, 7, _("Lines"), new_x="LMARGIN", new_y="NEXT")


def render(statement, summary, lines) -> bytes:
    """The PDF of ``statement`` in the active language: ``summary`` (``selectors.statement_summary``) and
    ``lines``, an iterable of its rebate lines in statement order as ``LINE_FIELDS`` tuples (read as they are
    drawn)."""
    partner = statement.partner
    pdf = _new_pdf(statement.number)
    pdf.header_fits = {}
    pdf.add_page()
    _first_page(pdf, statement, partner, summary)
    labels = (
        _("Order"), _("Line"), _("Product line"), _("Booked on"), _("Net amount"), _("Tier"), _("Component"),
        _("Rate (%)"), _("Amount"),
    )  # fmt: skip
    edges = _column_edges(pdf)
    fits: dict = {}
    dates: dict = {}
    product_lines = {value: str(label) for value, label in OrderLine._meta.get_field("product_line").flatchoices}
    components = {value: str(label) for value, label in Component.choices}
    bottom = pdf.h - MARGIN_BOTTOM
    right = pdf.w - MARGIN_X
    started = False
    adjusted = False
    for line in lines:
        if not started:
            if pdf.get_y() + 2 * ROW_H > bottom:
                pdf.add_page()
            _lines_header(pdf, labels)
            pdf.lines_header = labels
            started = True
        y = pdf.get_y()
        if y + ROW_H > bottom:
            pdf.add_page()  # the header row is drawn again by ``header``
            pdf.set_text_color(*(ADJUSTMENT if adjusted else INK))
            y = pdf.get_y()
        number, line_number, product_line, booked, net, tier, component, rate, amount, adjustment = line
        booked_text = dates.get(booked)
        if booked_text is None:
            booked_text = dates[booked] = formats.date_format(booked, "SHORT_DATE_FORMAT")
        if adjustment != adjusted:
            adjusted = adjustment
            pdf.set_text_color(*(ADJUSTMENT if adjusted else INK))
        cells = (
            f"{number} *" if adjusted else number,
            str(line_number),
            product_lines.get(product_line, product_line),
            booked_text,
            floatformat(net, "2g"),
            tier,
            components.get(component, component),
            str(rate.normalize()),
            floatformat(amount, "2g"),
        )
        _row(pdf, edges, cells, baseline=y + ROW_H - 1.3, size=LINE_SIZE, fits=fits)
        y += ROW_H
        pdf.line(MARGIN_X, y, right, y)
        pdf.set_y(y)
    pdf.lines_header = None
    pdf.set_text_color(*MUTED)
    pdf.set_font(FONT, "", BODY_SIZE)
    pdf.ln(3)
    note = _("Prior-period adjustment: a line booked in an earlier quarter that arrived after that quarter closed.")
    pdf.multi_cell(0, 4.5, f"* {note}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
