"""Validators shared by every area's schemas."""

from marshmallow import ValidationError, validate


class Printable(validate.Regexp):
    """Text without control characters (documented as a pattern) and without lone surrogates,
    which JSON can carry but UTF-8 cannot: PostgreSQL stores neither, so both are a 422 here
    rather than a 500 in the database driver."""

    SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
    MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # tab and line breaks allowed

    def __init__(self, multi_line=False):
        pattern = self.MULTI_LINE if multi_line else self.SINGLE_LINE
        super().__init__(pattern, error="must not contain control characters")

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self.error)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("must be valid Unicode text") from None
        return value
