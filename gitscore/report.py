"""Claim verdicts: chapters print one parseable line per claim; the summary chapter collects them."""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["VERDICTS", "verdict", "collect"]

VERDICTS = ("holds", "holds partly", "does not hold here")
_TAG = "VERDICT"


def verdict(claim: str, paper: str, ours: str, result: str, anchor: str = "") -> None:
    """Print one verdict line: claim, the paper's figure/number, our measurement, the verdict."""
    if result not in VERDICTS:
        raise ValueError(f"result must be one of {list(VERDICTS)}, got {result!r}")
    for name, text in (("claim", claim), ("paper", paper), ("ours", ours), ("anchor", anchor)):
        if "|" in text or "\n" in text:
            raise ValueError(f"{name} must not contain '|' or newlines, got {text!r}")
    line = f"{_TAG} | {claim} | {paper} | {ours} | {result} | {anchor}"
    print(line)


def collect(book_dir) -> list[dict]:
    """Verdict lines from the stored outputs of the executed chapters book_dir/NN_*.ipynb, in chapter order."""
    rows = []
    for nb in sorted(Path(book_dir).glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            for out in cell.get("outputs", []):
                text = out.get("text") or "".join(out.get("data", {}).get("text/plain", []))
                for line in ("".join(text) if isinstance(text, list) else text).splitlines():
                    if line.startswith(_TAG + " | "):
                        _, claim, paper, ours, result, anchor = [p.strip() for p in line.split("|")]
                        rows.append({"chapter": nb.stem, "claim": claim, "paper": paper, "ours": ours,
                                     "verdict": result, "anchor": anchor})
    return rows
