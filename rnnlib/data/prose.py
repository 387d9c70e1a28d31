"""From documentation text to English prose: drop code, tables and reST markup, keep paragraphs (notebook 1).

The rules are written for the two kinds of text the built-in corpus reads: plain-text
renderings of the reference manual (pydoc topics) and docstrings, which use reST or
plain conventions. They are heuristics; `tests/test_corpus.py` shows what each one does.
"""

import re

# A list item's marker: * - + • 1. 1) (1) #.
_BULLET = re.compile(r"(?:[*+\-\u2022]|\d{1,2}[.)]|\(\d{1,2}\)|#\.)\s+")
# A line of one repeated punctuation character: a heading underline or a simple-table border.
_RULE = re.compile(r"^\s*([=\-~*^#+\"'`:.])\1{2,}[\s=\-]*$")
# A grid table's border (+----+----+) or row (| a  | b  |).
_GRID_TABLE = re.compile(r"^\s*(?:[+|][-=+]|\|)")
# Inline markup: :role:`text`, `text <url>`_, ``literal``, `interpreted`, **strong**,
# *emphasis* (but not *args or a*b), and footnote references [1]_.
_ROLE = re.compile(r":(?:[\w-]+:)*[\w-]+:`([^`]*)`")
_LINK = re.compile(r"`([^`<]*?)\s*(?:<[^`>]*>)?`__?")
_LITERAL = re.compile(r"``(.+?)``")
_INTERPRETED = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"(?<![\w*])\*\*(?=\S)(.+?)(?<=\S)\*\*(?![\w*])")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![\w*])")
_FOOTNOTE = re.compile(r"\s?\[(?:\d+|#\w*|\*)\]_?")
# A "word" of prose: letters, maybe joined by - ' . / (os.path, SSL/TLS), maybe ending in
# "()", quoted or bracketed, and followed by punctuation; or a number.
_WORD = re.compile(
    r"""^["'“‘(\[]*(?:[A-Za-z_]\w*(?:[-'’./]\w+)*(?:\(\))?|[-+]?\d+(?:[.,]\d+)*)[)\]"'”’.,;:!?]*$"""
)
_CODE_HINTS = re.compile(r">>>|::|\bdef \w+\(|\bclass \w+[(:]|^Traceback\b|\w\(.*\)\s*->")


def _role_text(match: re.Match) -> str:
    """:func:`~os.path.join` -> join; :ref:`the title <label>` -> the title."""
    text = match.group(1)
    title = re.match(r"(.*?)\s*<[^<>]*>$", text)
    if title and title.group(1):
        return title.group(1)
    if text.startswith("~"):
        return text[1:].rsplit(".", 1)[-1]
    return text.lstrip("!")


def strip_markup(text: str) -> str:
    """Replace reST inline markup by its text and collapse whitespace."""
    text = _ROLE.sub(_role_text, text)
    text = _LITERAL.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _INTERPRETED.sub(r"\1", text)
    text = _STRONG.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    text = _FOOTNOTE.sub("", text)
    text = " ".join(text.replace("`", "").split())
    # "Example::" introduces a literal block; as prose it is "Example:" ("text ::" is "text").
    if text.endswith(" ::"):
        text = text[:-3]
    elif text.endswith("::"):
        text = text[:-1]
    return text


def looks_like_prose(paragraph: str, n_lines: int = 1) -> bool:
    """True for a paragraph of English sentences, False for code, signatures and fragments."""
    words = paragraph.split()
    if len(words) < 3 or _CODE_HINTS.search(paragraph):
        return False
    first, last = paragraph[0], paragraph.rstrip(")\"”'’")[-1:]
    if first.isupper() or (first in "\"“'‘" and paragraph[1:2].isalpha()):
        # A one-line summary may lack its full stop; several lines without one are a list.
        ends_well = last in ".!?:" or (n_lines == 1 and last.isalnum())
    else:
        # A lower-case start is a fragment cut off by code, or code itself ("for x in y:"),
        # unless it ends as a sentence does.
        ends_well = last in ".!?"
    if not ends_well:
        return False
    wordlike = sum(1 for w in words if _WORD.match(w))
    return wordlike >= 0.85 * len(words)


def prose_paragraphs(text: str) -> list[str]:
    """Split reST-ish documentation text into paragraphs and keep those that read as prose.

    Dropped: literal blocks after "::", directives (".. note::") with their bodies,
    doctest blocks (">>>" to the next blank line), tables, headings, and any paragraph
    that `looks_like_prose` rejects. A change of indentation starts a new paragraph, so
    an indented code line inside a paragraph is judged on its own.
    """
    kept: list[str] = []
    lines: list[str] = []  # the paragraph being collected
    para_indent = 0  # indentation that continues it
    literal_above = None  # inside a literal block or directive: skip lines indented deeper
    skip_to_blank = False  # inside a doctest block or table: skip up to the next blank line

    def flush():
        if lines:
            paragraph = strip_markup(" ".join(lines))
            if looks_like_prose(paragraph, n_lines=len(lines)):
                kept.append(paragraph)
            lines.clear()

    for raw in text.expandtabs(8).splitlines():
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if not stripped:
            flush()
            skip_to_blank = False
            continue
        if skip_to_blank or (literal_above is not None and indent > literal_above):
            continue
        literal_above = None
        if stripped.startswith(".. ") or stripped == "..":
            flush()
            literal_above = indent
        elif stripped.startswith(">>>"):
            flush()
            skip_to_blank = True
        elif _RULE.match(raw) or _GRID_TABLE.match(raw):
            lines.clear()  # a heading above its underline, or a caption glued to a table
            skip_to_blank = True
        elif bullet := _BULLET.match(stripped):
            flush()
            lines.append(stripped[bullet.end() :])
            para_indent = indent + bullet.end()
        elif lines and indent > para_indent and lines[-1][-1] not in ".:!?":
            # A hanging indent: the sentence above goes on, further indented.
            lines.append(stripped)
            para_indent = indent
        elif not lines or indent != para_indent:
            flush()
            lines.append(stripped)
            para_indent = indent
        else:
            lines.append(stripped)
        if stripped.endswith("::") and literal_above is None and not skip_to_blank:
            literal_above = para_indent
            flush()
    flush()
    return kept
