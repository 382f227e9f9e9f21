"""
Fail when a built HTML page shows reStructuredText markup as text (a stray backtick).

Usage: ``python .ci/check_rendered_markup.py BUILD_DIR``. Escaped or badly nested markup (```name```,
``±`name```, a generated table that escapes the backticks of ````code````) is rendered with its backticks;
this finds them in the text a reader sees: code blocks (``<pre>``), scripts, styles and the JSON of the
model cards are left out, inline ``<code>`` is checked too.
"""
import html
import re
import sys
from pathlib import Path

_HIDDEN = re.compile(r"<(script|style|pre)\b.*?</\1>|<details class=\"model-card-json\">.*?</details>", re.S)
_TAG = re.compile(r"<[^>]+>")


def stray_backticks(page):
    """Each stray backtick of an HTML page, with its surroundings."""
    text = html.unescape(_TAG.sub("", _HIDDEN.sub("", page)))
    return [" ".join(m.group(0).split()) for m in re.finditer(r".{0,50}`.{0,50}", text)]


def main(build_dir):
    pages = sorted(Path(build_dir).rglob("*.html"))
    found = 0
    for path in pages:
        if "_static" in path.parts or "browser" in path.parts:
            continue
        for excerpt in stray_backticks(path.read_text(encoding="utf-8")):
            print(f"{path.relative_to(build_dir)}: raw markup shown: {excerpt!r}")
            found += 1
    print(f"{len(pages)} pages checked, {found} stray backticks")
    return 1 if found or not pages else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
