"""A checker of live markdown: what GitHub would turn into a mention, a reference, a link, an
image, HTML, a heading, a code block or an extra table cell, in text that should hold none.

It reads markdown the way GitHub does in the respects that matter here (backslash escapes,
entities, line starts, table rows) and is deliberately strict: anything it cannot prove inert
is reported. The templates' own constructs are allowed by name: the ``### Firing:`` headings,
the label table, the ``- Started:`` lines and the links we build.
"""

import html
import re
import unicodedata

from alerts.render import KEY_PATTERN

_ESCAPED = re.compile(r"\\[!-/:-@\[-`{-~]")
_INERT = "\ufffc"  # stands for an escaped character or one of our links
_URL = r"\(https?://[^\s()<>\"'\\`]+\)"
# Our links, where the template puts them: a list item, and the footer.
_OUR_LINK = re.compile(
    rf"(?<=^- )\[(Prometheus|Runbook|Dashboard)\]{_URL}$"
    rf"|^\[Alertmanager\]{_URL}(?= · opened and maintained by)",
    re.MULTILINE,
)
_INLINE = {
    "mention": re.compile(r"@[A-Za-z0-9]"),
    "issue reference": re.compile(r"#[0-9]|\bgh-[0-9]", re.IGNORECASE),
    "autolink": re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://|\bwww\.", re.I),
}
_MARKDOWN_INLINE = {
    "link or image": re.compile(r"[\[\]]"),
    "HTML": re.compile(r"<"),
    "entity": re.compile(r"&(?!amp;|lt;|gt;)[#A-Za-z0-9]+;"),
    "code span": re.compile(r"`"),
    "strikethrough or math": re.compile(r"[~$]"),
    "emphasis": re.compile(r"[*_]"),
    "table cell": re.compile(r"\|"),
}
_BLOCK = {
    "heading": re.compile(r"^ {0,3}#{1,6}(\s|$)"),
    "setext underline or rule": re.compile(r"^ {0,3}(=+|-+|(\* *){3,}|(_ *){3,})\s*$"),
    "code block": re.compile(r"^( {0,3}(```|~~~)| {4}|\t)"),
    "block quote": re.compile(r"^ {0,3}>"),
    "list item": re.compile(r"^ {0,3}([*+-]|[0-9]{1,9}[.)])(\s|$)"),
}
_OUR_LINES = re.compile(
    rf"^(### (Firing|Resolved): |- (Started: |{_INERT}$|(Prometheus|Runbook|Dashboard): )"
    r"|\| label \| value \||\|---\|---\|)"
)


def live_text(text: str) -> list[str]:
    """Live constructs in plain text (a title): mentions, references, autolinks, control and
    format characters (bidi overrides, zero-width characters other than our word joiner)."""
    found = [name for name, pattern in _INLINE.items() if pattern.search(text)]
    for char in text:
        if char != "\n" and char != "\u2060" and unicodedata.category(char) in ("Cc", "Cf"):
            found.append(f"control or format character U+{ord(char):04X}")
    return found


def _shown(markdown: str) -> str:
    """What GitHub's mention and reference filters see: the text after markdown, that is
    without backslash escapes and with entities decoded (neither protects a mention)."""
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown))


def live_markdown(markdown: str, headings: int = 0) -> list[str]:
    """Live constructs in ``markdown``, ours excepted: ``headings`` alert headings, the label
    tables, the ``- Started:`` lines, our links and the hidden key at the end."""
    keys = list(KEY_PATTERN.finditer(markdown))
    if keys and not markdown[keys[-1].end() :].strip():  # ours: the last thing in the body
        markdown = markdown[: keys[-1].start()]
    markdown = _OUR_LINK.sub(_INERT, markdown)
    found = live_text(_shown(markdown))
    seen_headings = 0
    in_table = False
    for line in _ESCAPED.sub(_INERT, markdown).split("\n"):
        shown = repr(line[:80])
        ours = _OUR_LINES.match(line)
        seen_headings += bool(ours and line.startswith("###"))
        if in_table and line:
            if not (line.startswith("| ") and line.endswith(" |") and line.count("|") == 3):
                found.append(f"table row with {line.count('|')} separators: {shown}")
            line = line.replace("|", _INERT)
        in_table = (in_table and bool(line)) or line == "|---|---|"
        if ours:
            line = line.replace("|", _INERT)
        else:
            found += [f"{name}: {shown}" for name, p in _BLOCK.items() if p.search(line)]
        line = line.removeprefix("**Firing**").removeprefix("**Resolved**")
        found += [f"{name}: {shown}" for name, p in _MARKDOWN_INLINE.items() if p.search(line)]
    if seen_headings != headings:
        found.append(f"{seen_headings} alert headings, expected {headings}")
    return found
