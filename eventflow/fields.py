"""Validators and fields shared by every area's schemas, and by the token's display name."""

import re

from marshmallow import ValidationError, fields, validate

# What text may never contain: C0 controls (but, in multi-line text, tab and line breaks), DEL,
# C1 controls, and the bidirectional embeddings, overrides and isolates that make text display
# in another order than it is stored ("Trojan Source"). One line also refuses the Unicode line
# and paragraph separators.
_BIDI_CONTROLS = r"\u202a-\u202e\u2066-\u2069"
_REFUSED_IN_LINE = rf"\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI_CONTROLS}"
_REFUSED_IN_TEXT = rf"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI_CONTROLS}"
_SINGLE_LINE = re.compile(rf"^[^{_REFUSED_IN_LINE}]*$")
_MULTI_LINE = re.compile(rf"^[^{_REFUSED_IN_TEXT}]*$")

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
    """Printable text (the refused characters documented as a pattern, see text_problem);
    `non_blank` text also needs a character that is not whitespace."""

    def __init__(self, multi_line=False, non_blank=False):
        refused = _REFUSED_IN_TEXT if multi_line else _REFUSED_IN_LINE
        # Text that must say something (a message, a question) also needs one character that is
        # not whitespace, so the spec refuses what the server would trim to nothing.
        super().__init__(rf"^[^{refused}]*[^\s{refused}][^{refused}]*$" if non_blank else rf"^[^{refused}]*$")
        self.multi_line = multi_line
        self.non_blank = non_blank

    def __call__(self, value):
        problem = text_problem(value, self.multi_line)
        if problem is None and self.non_blank and value.isspace():
            problem = "must not be blank"
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
