"""Text from outside (alerts, GitHub titles) made inert for places GitHub or a mail reader
would act on it."""

import re
import unicodedata

_ZERO_WIDTH = "\u2060"  # word joiner: invisible, and breaks GitHub's reference patterns
_NEWLINE = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_NOT_PRINTABLE_ASCII = re.compile(r"[^\n\x20-\x7e]")
# Where GitHub would see a mention (@x, also e-mail addresses), an issue reference (#1, GH-1)
# or an autolink (scheme://, www.): a word joiner goes in between.
_REFERENCE = re.compile(
    r"(?<=@)(?=[A-Za-z0-9])|(?<=#)(?=[0-9])|(?<=gh-)(?=[0-9])|(?<=:)(?=//)|(?<=www)(?=\.)",
    re.IGNORECASE,
)


def plain(text: str) -> str:
    """Text made inert as plain text (titles): control and bidi characters replaced, mentions,
    issue references and autolinks broken by an invisible word joiner."""
    text = _NEWLINE.sub("\n", text).replace("\t", " ")
    text = _NOT_PRINTABLE_ASCII.sub(_printable, text)
    return _REFERENCE.sub(_ZERO_WIDTH, text)


def _printable(match: re.Match[str]) -> str:
    char = match.group(0)
    return "\ufffd" if unicodedata.category(char) in ("Cc", "Cf", "Cs") else char
