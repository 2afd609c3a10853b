"""How the book reports: claim verdicts, HTML tables, numbered figures, matplotlib style.

A chapter calls `verdict(...)` once per claim: the notebook shows a coloured box (an HTML admonition),
its text/plain form is one machine-readable line (`VERDICT | claim | ...`), and the verdict is
recorded in the kernel. The chapter's last cell calls `glue_verdicts(chapter)`, which glues the
recorded verdicts (an HTML table, JSON as text/plain) under the key `verdicts`; the summary chapter
pastes that key from every chapter with myst-nb's cross-document `{glue}` directive, so the summary
shows what the build executed. `collect(book_dir)` reads the same verdicts back from stored notebooks.
"""
from __future__ import annotations

import html
import io
import json
import math
from pathlib import Path

import numpy as np

from .claims import VERDICTS as CLAIM_VERDICTS  # the words of the registry's one rule

__all__ = ["VERDICTS", "Verdict", "verdict", "recorded", "glue_verdicts", "glue_text", "verdict_table", "collect",
           "summary_rows", "tally", "SUMMARY_COLUMNS",
           "html_table", "markdown_table", "glue_table", "figure", "LAYOUT_MARKER", "book_style", "show_params",
           "fold", "FoldedStream", "TEXT_WIDTH_IN", "LINE_WIDTH",
           "image_grid", "scatter_image", "png_bytes"]

LEGACY_VERDICTS = ("holds", "holds partly", "does not hold here")  # typed words, before the claims registry
VERDICTS = CLAIM_VERDICTS + tuple(v for v in LEGACY_VERDICTS if v not in CLAIM_VERDICTS)
_TAG = "VERDICT"
_ADMONITION = {"holds": "tip", "holds on some models": "warning", "not decided": "warning",
               "does not hold": "danger", "not separable here": "warning",
               "holds partly": "warning", "does not hold here": "danger"}
_RECORDED: list[dict] = []
LINE_WIDTH = 88  # characters of printed output that fit the text column
TEXT_WIDTH_IN = 6.6  # the width figures render at in the book (660 px in a 1280 px window, measured), inches at 100 dpi


def _check_text(name: str, text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    if "|" in text or "\n" in text:
        raise ValueError(f"{name} must not contain '|' or newlines, got {text!r}")
    return text


class Verdict:
    """One claim's verdict: an HTML admonition in the notebook, one parseable line as text/plain."""

    def __init__(self, claim: str, paper: str, ours: str, result: str, anchor: str = "",
                 beyond_paper: bool = False):
        if result not in VERDICTS:
            raise ValueError(f"result must be one of {list(VERDICTS)}, got {result!r}")
        if not isinstance(beyond_paper, bool):
            raise TypeError(f"beyond_paper must be a bool, got {type(beyond_paper).__name__}")
        self.claim, self.paper, self.ours = (_check_text(n, t) for n, t in
                                             (("claim", claim), ("paper", paper), ("ours", ours)))
        self.anchor = _check_text("anchor", anchor)
        self.result, self.beyond_paper = result, beyond_paper

    def as_dict(self) -> dict:
        return {"claim": self.claim, "paper": self.paper, "ours": self.ours, "verdict": self.result,
                "anchor": self.anchor, "beyond_paper": self.beyond_paper}

    def __repr__(self) -> str:
        paper = self.paper + (" (beyond the paper)" if self.beyond_paper else "")
        return f"{_TAG} | {self.claim} | {paper} | {self.ours} | {self.result} | {self.anchor}"

    def _repr_html_(self) -> str:
        e = html.escape
        source = "a test beyond the paper" if self.beyond_paper else e(self.paper)
        rows = [("claim", e(self.claim)), ("paper", source), ("measured", e(self.ours))]
        body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        return (f'<div class="admonition {_ADMONITION[self.result]} gs-verdict">'
                f'<p class="admonition-title">Verdict: {e(self.result)}</p>'
                f'<table class="gs-verdict-table">{body}</table></div>')


def verdict(claim, paper: str | None = None, ours: str | None = None, result: str | None = None, anchor: str = "",
            beyond_paper: bool = False) -> None:
    """Show one claim's verdict and record it.

    `claim` is a gitscore.claims.Verdict (what the registry's rule returned: the word is never typed); its
    row shows the claim, the paper's source and number, every model's interval, the control and its
    separation. The older form verdict(claim_text, paper, ours, result, ...) with a typed result is kept
    only for chapters not yet moved to the registry.
    """
    from . import claims
    if isinstance(claim, claims.Verdict):
        if any(a is not None for a in (paper, ours, result)):
            raise TypeError("verdict(claims.Verdict) takes no paper / ours / result: they come from the registry")
        row = claim.as_dict()
        ours = row["ours"] + ("" if claim.control is None else
                              f"; control {claim.claim.control}: {claim.claim.fmt(claim.control.interval.estimate)} "
                              f"({claim.control.side}, separation {claim.control.margin})")
        paper = row["paper"] + (f" ({claim.claim.paper})" if claim.claim.paper and claim.claim.paper != row["paper"]
                                else "")
        v = Verdict(_one_line(row["claim"]), _one_line(paper), _one_line(ours), row["verdict"],
                    anchor or row["anchor"], row["beyond_paper"])
        rec = v.as_dict() | {"id": row["id"], "separation": row["separation"]}
    else:
        v = Verdict(claim, paper, ours, result, anchor, beyond_paper)
        rec = v.as_dict()
    _RECORDED.append(rec)
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency of the book extra
        print(repr(v))
        return
    display(v)


def _one_line(text) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def recorded() -> list[dict]:
    """The verdicts recorded in this kernel so far (a copy)."""
    return [dict(r) for r in _RECORDED]


def verdict_table(rows: list[dict], chapter: str = "") -> str:
    """An HTML table of verdict rows; with chapter (e.g. '01_ode'), claims link to chapter.html#anchor."""
    e = html.escape
    head = "<tr><th>claim</th><th>paper</th><th>measured</th><th>verdict</th></tr>"
    body = []
    for r in rows:
        claim = e(r["claim"])
        if chapter:
            target = f"{chapter}.html" + (f"#{r['anchor']}" if r.get("anchor") else "")
            claim = f'<a href="{e(target)}">{claim}</a>'
        paper = "<em>beyond the paper</em>" if r.get("beyond_paper") else e(r["paper"])
        cls = r["verdict"].replace(" ", "-")
        body.append(f'<tr><td>{claim}</td><td>{paper}</td><td>{e(r["ours"])}</td>'
                    f'<td class="gs-{cls}"><strong>{e(r["verdict"])}</strong></td></tr>')
    return f'<table class="table gs-verdicts">{head}{"".join(body)}</table>'


class _Glued:
    def __init__(self, html_text: str, plain: str):
        self._html, self._plain = html_text, plain

    def _repr_html_(self):
        return self._html

    def __repr__(self):
        return self._plain


def glue_verdicts(chapter: str) -> list[dict]:
    """Glue this kernel's verdicts under the key 'verdicts' (HTML table; JSON as text/plain) and return them."""
    if not isinstance(chapter, str) or not chapter:
        raise ValueError(f"chapter must be the notebook's name, e.g. '01_ode', got {chapter!r}")
    from myst_nb import glue
    rows = recorded()
    if not rows:
        raise ValueError("no verdicts recorded in this kernel: call verdict(...) first")
    glue("verdicts", _Glued(verdict_table(rows, chapter), json.dumps(rows)), display=False)
    counts = [(v, sum(r["verdict"] == v for r in rows if not r["beyond_paper"])) for v in VERDICTS]
    beyond = sum(r["beyond_paper"] for r in rows)
    text = ", ".join(f"{n} {v}" for v, n in counts if n) or "no claim of the paper"
    glue_text("verdict_counts", text + (f" (and {beyond} beyond the paper)" if beyond else ""))
    for i, r in enumerate(rows, 1):
        glue_text(f"verdict_{i}", r["verdict"])
    return rows


def glue_text(name: str, text: str) -> None:
    """Glue a plain string (no quotes in text/plain) for `{glue:text}` on this or another page."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    from myst_nb import glue
    glue(name, _Glued(html.escape(text), text), display=False)


def _output_text(out) -> str:
    data = out.get("data", {})
    prefix = out.get("metadata", {}).get("scrapbook", {}).get("mime_prefix", "")
    text = out.get("text") or data.get("text/plain") or data.get(prefix + "text/plain", "")
    return "".join(text) if isinstance(text, list) else text


def collect(book_dir) -> list[dict]:
    """The verdicts stored in book_dir/NN_*.ipynb, in chapter order: each chapter's glued 'verdicts'
    where present, else its VERDICT lines (text/plain of the verdict boxes, or printed lines)."""
    rows = []
    for nb in sorted(Path(book_dir).glob("[0-9][0-9]_*.ipynb")):
        glued, lines = None, []
        for cell in json.loads(nb.read_text())["cells"]:
            for out in cell.get("outputs", []):
                if out.get("metadata", {}).get("scrapbook", {}).get("name") == "verdicts":
                    glued = json.loads(_output_text(out))
                for line in _output_text(out).splitlines():
                    if line.startswith(_TAG + " | "):
                        _, claim, paper, ours, result, anchor = [p.strip() for p in line.split("|")]
                        beyond = paper.endswith("(beyond the paper)")
                        lines.append({"claim": claim, "paper": paper.removesuffix("(beyond the paper)").strip(),
                                      "ours": ours, "verdict": result, "anchor": anchor, "beyond_paper": beyond})
        rows += [{"chapter": nb.stem, **r} for r in (glued if glued is not None else lines)]
    return rows


SUMMARY_COLUMNS = ("claim", "source", "statistic", "measured (95 % intervals) and control", "threshold", "verdict",
                   "paper")


def summary_rows(rows: list[dict], beyond_paper: bool = False) -> list[dict]:
    """The summary table's rows from recorded verdicts (`collect` / `recorded`): one per claim, the paper's
    claims (beyond_paper=False) or ours (True), never both; the statistic, threshold and source come from the
    claims registry where the row names its claim (rows of the typed-word era keep what they recorded)."""
    from . import claims
    out = []
    for r in rows:
        if bool(r.get("beyond_paper")) != beyond_paper:
            continue
        c = claims.REGISTRY.get(r.get("id", ""))
        out.append({"claim": r["claim"], "source": c.source if c else r["paper"],
                    "statistic": c.statistic if c else "-", SUMMARY_COLUMNS[3]: r["ours"],
                    "threshold": c.rule if c else "-", "verdict": r["verdict"],
                    "paper": (c.paper or "-") if c else r["paper"]})
    return out


def tally(rows: list[dict]) -> dict:
    """{"paper": {word: n}, "beyond_paper": {word: n}} of recorded verdict rows (never mixed)."""
    out = {"paper": dict.fromkeys(VERDICTS, 0), "beyond_paper": dict.fromkeys(VERDICTS, 0)}
    for r in rows:
        out["beyond_paper" if r.get("beyond_paper") else "paper"][r["verdict"]] += 1
    return {k: {w: n for w, n in v.items() if n} for k, v in out.items()}


def html_table(df, floatfmt: str = "{:.3g}", index: bool = False, caption: str = ""):
    """A pandas DataFrame as a compact HTML table (IPython HTML object) that fits the text column."""
    from IPython.display import HTML
    def number(v):
        return "-" if v != v else floatfmt.format(v)  # NaN (a cell not reported) as "-"

    fmt = {c: number for c in df.columns if df[c].dtype.kind == "f"}
    text = df.to_html(index=index, formatters=fmt, border=0, classes="table gs-table", escape=True, na_rep="-")
    if caption:
        text = text.replace(">\n  <thead>", f">\n  <caption>{html.escape(caption)}</caption>\n  <thead>", 1)
    return HTML(text)


class _Markdown:
    """Markdown glued for `{glue:md}`; its text/plain is the same Markdown, so nbval compares every cell of it."""

    def __init__(self, text: str):
        self._text = text

    def _repr_markdown_(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return self._text


def markdown_table(df, floatfmt="{:.3g}", index: bool = False) -> str:
    """A pandas DataFrame as a Markdown table: floats through floatfmt (one format, or {column: format}; NaN as
    "-"), every other value as str; '|' in a value is escaped."""
    if index:
        df = df.reset_index()
    fmts = floatfmt if isinstance(floatfmt, dict) else {}
    unknown = set(fmts) - set(df.columns)
    if unknown:
        raise ValueError(f"floatfmt names columns not in the table: {sorted(map(str, unknown))}; "
                         f"columns are {[str(c) for c in df.columns]}")

    def cell(column, v) -> str:
        if isinstance(v, float | np.floating):
            text = "-" if v != v else fmts.get(column, floatfmt if isinstance(floatfmt, str) else "{:.3g}").format(v)
        else:
            text = str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(str(c).replace("|", "\\|") for c in df.columns) + " |"
    rule = "|" + "|".join(":---" if df[c].dtype.kind not in "fiu" else "---:" for c in df.columns) + "|"
    rows = ["| " + " | ".join(cell(c, v) for c, v in zip(df.columns, row)) + " |"
            for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def glue_table(name: str, df, floatfmt="{:.3g}", index: bool = False, caption: str = "") -> None:
    """Glue a DataFrame as a Markdown table under name, pasted in the chapter with `{glue:md}` name and
    `:format: myst`. With a caption, the glued Markdown is a MyST `{table}` directive named name: a numbered
    table with that caption, for `{numref}` like a figure. Its text/plain is the same Markdown, so nbval
    checks every number of it."""
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"name must be letters, digits, '_' or '-', got {name!r}")
    if not isinstance(caption, str):
        raise TypeError(f"caption must be a str, got {type(caption).__name__}")
    from myst_nb import glue
    text = markdown_table(df, floatfmt, index)
    if caption:
        text = f":::{{table}} {' '.join(caption.split())}\n:name: {name}\n\n{text}\n:::"
    glue(name, _Markdown(text), display=False)


LAYOUT_MARKER = "gitscore-layout"  # the PNG text chunk every glued figure carries once it passed the layout check


class _CheckedFigure:
    """A figure rendered once as PNG (what myst-nb glues), with the layout check's marker in a PNG text chunk."""

    def __init__(self, png: bytes, plain: str):
        self._png, self._plain = png, plain

    def _repr_png_(self) -> bytes:
        return self._png

    def __repr__(self) -> str:
        return self._plain


def figure(fig, name: str) -> None:
    """Check a matplotlib figure's layout, glue it under name (for `{glue:figure}` + `{numref}`) and close it.

    A figure wider than the text column (TEXT_WIDTH_IN) is scaled down to it, aspect kept, so that its
    fonts (set in points) stay legible in the rendered page instead of being shrunk with the image. Then
    `gitscore.layout.check` runs at that size (overlapping texts, text outside the canvas, a legend over data
    raise `gitscore.layout.LayoutError`, which fails the cell), and the PNG is saved as Jupyter saves figures
    (tight bounding box, the figure's dpi) with the text chunk LAYOUT_MARKER = "checked <name> <w>x<h> px",
    which the browser test reads from every image of the built book.
    """
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"name must be letters, digits, '_' or '-', got {name!r}")
    import matplotlib.pyplot as plt
    from myst_nb import glue

    from . import layout
    w, h = fig.get_size_inches()
    if w > TEXT_WIDTH_IN:
        fig.set_size_inches(TEXT_WIDTH_IN, h * TEXT_WIDTH_IN / w)
    try:
        layout.check(fig, name)
    except layout.LayoutError:
        plt.close(fig)
        raise
    size = f"{fig.bbox.width:.0f}x{fig.bbox.height:.0f} px"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight", facecolor=fig.get_facecolor(),
                edgecolor=fig.get_edgecolor(), metadata={LAYOUT_MARKER: f"checked {name} {size}"})
    glue(name, _CheckedFigure(buf.getvalue(), repr(fig)), display=False)
    plt.close(fig)


def fold(line: str, width: int = LINE_WIDTH, indent: str = "    ") -> list[str]:
    """One printed line as lines of at most `width` characters: cut at spaces, continuations indented."""
    if width < 20:
        raise ValueError(f"width must be >= 20, got {width!r}")
    out, rest = [], line
    while len(rest) > width:
        cut = rest.rfind(" ", len(indent) + 1 if out else 1, width + 1)
        if cut <= (len(indent) if out else 0):
            cut = width  # no space: hard cut
        out.append(rest[:cut].rstrip())
        rest = indent + rest[cut:].lstrip()
    return out + [rest]


class FoldedStream:
    """A text stream that folds every line longer than `width` (see `fold`) before writing it to `stream`."""

    def __init__(self, stream, width: int = LINE_WIDTH):
        self.stream, self.width, self._buf = stream, width, ""

    def write(self, text: str) -> int:
        self._buf += text
        *lines, self._buf = self._buf.split("\n")
        for line in lines:
            self.stream.write("\n".join(fold(line, self.width)) + "\n")
        return len(text)

    def flush(self):
        if self._buf:
            self.stream.write("\n".join(fold(self._buf, self.width)))
            self._buf = ""
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def book_style() -> None:
    """The book's style: seaborn whitegrid, fonts >= 9 pt, figures sized for the text column, and printed
    lines folded at LINE_WIDTH characters so that no output runs past the text column."""
    import sys
    if not isinstance(sys.stdout, FoldedStream):
        sys.stdout = FoldedStream(sys.stdout)
    import matplotlib as mpl
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="paper")
    mpl.rcParams.update({"font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9, "xtick.labelsize": 9,
                         "ytick.labelsize": 9, "legend.fontsize": 9, "figure.titlesize": 10,
                         "figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (TEXT_WIDTH_IN, 3.5)})



def show_params(params, skip=()) -> None:
    """Print a dataclass of parameters one field per line (`name = value`), each line cut to LINE_WIDTH; a path
    is shown relative to the checkout (readers see no path of the machine the chapter ran on)."""
    import dataclasses
    if not dataclasses.is_dataclass(params):
        raise TypeError(f"params must be a dataclass instance, got {type(params).__name__}")
    fields = [f.name for f in dataclasses.fields(params) if f.name not in skip]
    width = max(map(len, fields))
    root = Path(__file__).resolve().parents[1]
    for name in fields:
        value = getattr(params, name)
        if isinstance(value, Path):  # a folder of the checkout, not the path of the machine it ran on
            value = value.resolve()
            value = f"<checkout>/{value.relative_to(root).as_posix()}" if value.is_relative_to(root) else value.name
            line = f"{name:<{width}} = {value}"
        else:
            line = f"{name:<{width}} = {value!r}"
        print(line if len(line) <= LINE_WIDTH else line[:LINE_WIDTH - 3] + "...")


# ---------------------------------------------------------------- sample images (PNG, for `gitscore sample`)

def image_grid(x: np.ndarray) -> np.ndarray:
    """(n, C, H, W) in [-1, 1] -> one uint8 image (rows of ceil(sqrt(n))), 1-pixel gaps."""
    n, C, H, W = x.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * (H + 1) - 1, cols * (W + 1) - 1, C), dtype=np.uint8)
    img = ((np.clip(x, -1, 1) + 1) * 127.5).round().astype(np.uint8).transpose(0, 2, 3, 1)
    for k in range(n):
        r, c = divmod(k, cols)
        grid[r * (H + 1):r * (H + 1) + H, c * (W + 1):c * (W + 1) + W] = img[k]
    return grid[..., 0] if C == 1 else grid


def scatter_image(x: np.ndarray, size: int = 256) -> np.ndarray:
    """Points (n, d >= 2) drawn as dots on a white square (first two coordinates), axes through 0."""
    lim = max(1e-9, float(np.abs(x[:, :2]).max())) * 1.1
    img = np.full((size, size), 255, dtype=np.uint8)
    img[size // 2, :] = img[:, size // 2] = 200
    px = np.clip(((x[:, :2] / lim + 1) / 2 * (size - 1)).round().astype(int), 1, size - 2)
    for u, v in px:
        img[size - 1 - v - 1:size - 1 - v + 2, u - 1:u + 2] = 0
    return img


def png_bytes(pixels: np.ndarray) -> bytes:
    """A uint8 image (H, W) or (H, W, 3) encoded as PNG (Pillow)."""
    try:
        from PIL import Image
    except ImportError:
        raise ValueError("writing the PNG needs Pillow, a dependency of gitscore that this environment lacks: "
                         "pip install pillow (the .npy was written)") from None
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- numbered tables and sample figures for chapters
# (kept apart from `figure` and the verdict machinery above)

__all__ += ["sample_rows"]


def sample_rows(rows: dict, columns=(), width: float = TEXT_WIDTH_IN, label_width: float = 1.9):
    """A figure of image rows: rows = {label: array (n, C, H, W) in [-1, 1]}, each row n images of the same
    latents in one line (each image through `image_grid`, 2-pixel white gaps), its label on the left
    (`label_width` inches), optional column titles above the first row."""
    import matplotlib.pyplot as plt
    if not rows:
        raise ValueError("rows must hold at least one row of images")
    arrays = {str(k): np.asarray(v) for k, v in rows.items()}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 4:
        raise ValueError(f"every row must be an (n, C, H, W) array of one shape, got {sorted(map(str, shapes))}")
    n, _, h, w = next(iter(shapes))
    if columns and len(columns) != n:
        raise ValueError(f"columns must name each of the {n} images, got {len(columns)}")
    if not 0 < label_width < width:
        raise ValueError(f"label_width must be in (0, width={width}), got {label_width!r}")
    gap = 2
    strip_w = n * (w + gap) - gap
    row_h = (width - label_width) * h / strip_w  # inches per row at the strip's own aspect
    top = 0.22 if columns else 0.04
    fig = plt.figure(figsize=(width, len(arrays) * row_h * 1.08 + top + 0.04))
    for r, (label, a) in enumerate(arrays.items()):
        bottom = 1 - (top + (r + 1) * row_h * 1.08) / fig.get_figheight()
        ax = fig.add_axes((label_width / width, bottom, 1 - label_width / width, row_h / fig.get_figheight()))
        line = np.full((h, strip_w) + image_grid(a[:1]).shape[2:], 255, dtype=np.uint8)
        for k in range(n):
            line[:, k * (w + gap):k * (w + gap) + w] = image_grid(a[k:k + 1])
        ax.imshow(line, cmap="gray", vmin=0, vmax=255, interpolation="nearest", aspect="auto")
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
        fig.text(label_width / width - 0.01, bottom + row_h / fig.get_figheight() / 2, label, ha="right",
                 va="center", fontsize=9)
        if r == 0 and columns:
            for k, title in enumerate(columns):
                ax.text(k * (w + gap) + w / 2, -1, title, ha="center", va="bottom", fontsize=8)
    return fig
