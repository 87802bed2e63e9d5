"""What chat and Q&A take and give. Text is stored and returned as text: nothing here (or in the
database) interprets HTML, and JSON responses are never rendered as a page."""

import re

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from eventflow.fields import Printable, StrictBoolean, Text

# The database allows 2000 / 1000 / 4000 (migration 0003); the API keeps to the same bounds.
MAX_MESSAGE_LENGTH = 2000
MAX_QUESTION_LENGTH = 1000
MAX_ANSWER_LENGTH = 4000
MAX_PAGE = 200
# A cursor is a feed position (a decimal number), opaque to clients; 15 digits keep it exact in
# a JavaScript number too.
CURSOR = re.compile(r"\A[0-9]{1,15}\Z")
QUESTION_STATUSES = ("pending", "answered", "hidden")


def _text(max_length, **kwargs):
    return Text(validate=[validate.Length(1, max_length), Printable(multi_line=True, non_blank=True)], **kwargs)


class PollArgsSchema(Schema):
    after = fields.String(
        load_default="0",
        validate=validate.Regexp(CURSOR, error="not a cursor"),
        metadata={"description": "the `next` of the previous page; omit to start from the oldest"},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_PAGE))


class QuestionPollArgsSchema(PollArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(QUESTION_STATUSES))


class PageSchema(Schema):
    next = fields.String(required=True, metadata={"description": "the cursor of the next poll"})
    removed = fields.List(
        fields.Integer(),
        required=True,
        metadata={"description": "ids changed since the cursor that this caller no longer sees"},
    )


class MessageSchema(Schema):
    id = fields.Integer(required=True)
    author_role = fields.String(required=True)
    display_name = fields.String(required=True)
    body = fields.String(required=True)
    hidden = fields.Boolean(required=True)
    mine = fields.Boolean(required=True)
    user_id = fields.UUID(allow_none=True, metadata={"description": "admins only"})
    created_at = fields.DateTime(required=True)


class MessagePageSchema(PageSchema):
    messages = fields.List(fields.Nested(MessageSchema), required=True)


class NewMessageSchema(Schema):
    body = _text(MAX_MESSAGE_LENGTH, required=True)


class ModerateMessageSchema(Schema):
    hidden = StrictBoolean(required=True)


class QuestionSchema(Schema):
    id = fields.Integer(required=True)
    display_name = fields.String(required=True)
    body = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(QUESTION_STATUSES))
    is_public = fields.Boolean(required=True)
    pinned = fields.Boolean(required=True)
    answer = fields.String(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)
    upvotes = fields.Integer(required=True)
    upvoted = fields.Boolean(required=True, metadata={"description": "the caller upvoted it"})
    mine = fields.Boolean(required=True)
    user_id = fields.UUID(allow_none=True, metadata={"description": "admins only"})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class QuestionPageSchema(PageSchema):
    questions = fields.List(fields.Nested(QuestionSchema), required=True)


class NewQuestionSchema(Schema):
    body = _text(MAX_QUESTION_LENGTH, required=True)
    is_public = StrictBoolean(load_default=True, metadata={"description": "false: only the asker sees the answer"})


class ModerateQuestionSchema(Schema):
    class Meta:
        json_schema = {"minProperties": 1}

    # Each optional, none null: a change leaves out what it does not change.
    answer = _text(MAX_ANSWER_LENGTH)
    hidden = StrictBoolean()
    pinned = StrictBoolean()

    @validates_schema
    def one_change_at_least(self, data, **kwargs):
        if not data:
            raise ValidationError("give at least one of answer, hidden, pinned")

    @post_load
    def unchanged_as_none(self, data, **kwargs):
        return {"answer": None, "hidden": None, "pinned": None} | data


class UpvoteSchema(Schema):
    question_id = fields.Integer(required=True)
    upvotes = fields.Integer(required=True)
    upvoted = fields.Boolean(required=True)
