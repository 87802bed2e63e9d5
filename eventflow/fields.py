"""Validators and fields shared by every area's schemas, and by the token's display name."""

import re

from marshmallow import ValidationError, fields, validate

# What text may never contain: C0 controls (but, in multi-line text, tab and line breaks), DEL,
# C1 controls, and the bidirectional embeddings, overrides and isolates that make text display
# in another order than it is stored ("Trojan Source"). One line also refuses the Unicode line
# and paragraph separators.
_BIDI_CONTROLS = r"\u202a-\u202e\u2066-\u2069"
SINGLE_LINE_PATTERN = rf"^[^\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI_CONTROLS}]*$"
MULTI_LINE_PATTERN = rf"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI_CONTROLS}]*$"
_SINGLE_LINE = re.compile(SINGLE_LINE_PATTERN)
_MULTI_LINE = re.compile(MULTI_LINE_PATTERN)

# The whitespace trimmed from the ends of text: what str.strip() would take, but for the
# characters refused above (\v, \f, \x1c-\x1f, \x85), which are validated and refused instead of
# silently removed, so what is checked is what is stored.
TRIMMED = "".join(
    ch for ch in map(chr, range(0x3001)) if ch.isspace() and (ch in "\t\n\r" or _MULTI_LINE.fullmatch(ch))
)


def text_problem(value, multi_line=False):
    """Why `value` is not printable text (one line unless `multi_line`), or None if it is.
    Lone surrogates (JSON can carry them, UTF-8 cannot) are refused too: PostgreSQL stores none."""
    if multi_line and _MULTI_LINE.fullmatch(value) is None:
        return "must not contain control characters or bidirectional overrides"
    if not multi_line and _SINGLE_LINE.fullmatch(value) is None:
        return "must be one line without control characters or bidirectional overrides"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    return None


class Printable(validate.Regexp):
    """Printable text (the refused characters documented as a pattern, see text_problem)."""

    def __init__(self, multi_line=False):
        super().__init__(MULTI_LINE_PATTERN if multi_line else SINGLE_LINE_PATTERN)
        self.multi_line = multi_line

    def __call__(self, value):
        problem = text_problem(value, self.multi_line)
        if problem:
            raise ValidationError(problem)
        return value


class Text(fields.String):
    """A string trimmed of surrounding whitespace (TRIMMED: never a character Printable refuses)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip(TRIMMED)


class StrictBoolean(fields.Boolean):
    """JSON true or false, nothing else: marshmallow's Boolean would take "yes", "on", 1 and 0."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
