"""SQL of chat and Q&A. Row-level security scopes every statement to the caller; the feed seq
(migration 0006) orders and pages every poll.

A poll is one statement, so one snapshot: the feed's head and the changes after the cursor are
read together. The page is the first `limit` changes after the cursor in seq order, counting
both rows the caller may see and (participants only) stubs of rows hidden from them since, so
the next cursor is exact: the last change on a full page, else the head.
"""

# The common end of both polls: the page, and the feed's head (0 before its first change).
PAGE_AND_HEAD = """,
page as (select * from changes order by seq limit %(limit)s)
select coalesce((select f.seq from chat_feeds f
                 where f.webinar_id = %(webinar_id)s and f.feed = %(feed)s), 0) as head,
       page.*
from (select) as one_row
left join page on true
order by page.seq
"""

MESSAGE_COLUMNS = """
m.id, m.author_role, m.display_name, m.body, m.hidden, m.created_at,
m.user_id = %(user_id)s as mine,
case when %(admin)s then m.user_id end as user_id
"""

POLL_MESSAGES = f"""
with changes as (
    select m.seq, false as removed, {MESSAGE_COLUMNS}
    from messages m
    where m.webinar_id = %(webinar_id)s and m.seq > %(after)s
    union all
    select r.seq, true, r.id, null, null, null, null, null, null, null
    from app.removed_messages(%(webinar_id)s, %(after)s) r
    where not %(admin)s
){PAGE_AND_HEAD}"""

POST_MESSAGE = f"""
insert into messages as m (webinar_id, client_id, agency_id, user_id, author_role, display_name, body)
values (%(webinar_id)s, %(client_id)s, %(agency_id)s, %(user_id)s, %(role)s, %(display_name)s, %(body)s)
returning m.seq, {MESSAGE_COLUMNS}
"""

MODERATE_MESSAGE = f"""
update messages as m set hidden = %(hidden)s
where m.webinar_id = %(webinar_id)s and m.id = %(message_id)s
returning m.seq, {MESSAGE_COLUMNS}
"""

QUESTION_FIELDS = """
q.id, q.display_name, q.body, q.status, q.is_public, q.pinned, q.answer, q.answered_at,
q.created_at, q.updated_at,
q.user_id = %(user_id)s as mine,
case when %(admin)s then q.user_id end as user_id
"""

# The webinar is named as a value, not taken from q: so Citus sees that the reactions, too, are
# on the webinar's one shard.
UPVOTE_FIELDS = """
(select count(*) from reactions r
 where r.webinar_id = %(webinar_id)s and r.target_type = 'question' and r.target_id = q.id
   and r.kind = 'upvote') as upvotes,
exists (select from reactions r
        where r.webinar_id = %(webinar_id)s and r.target_type = 'question' and r.target_id = q.id
          and r.kind = 'upvote' and r.user_id = %(user_id)s) as upvoted
"""

QUESTION_COLUMNS = f"{QUESTION_FIELDS}, {UPVOTE_FIELDS}"

# With a status filter, a question changed after the cursor that no longer has that status is
# reported as removed: a client showing "pending" learns that one was answered or hidden.
POLL_QUESTIONS = f"""
with changes as (
    select q.seq, (%(status)s::text is not null and q.status <> %(status)s) as removed, {QUESTION_COLUMNS}
    from questions q
    where q.webinar_id = %(webinar_id)s and q.seq > %(after)s
    union all
    select r.seq, true, r.id, null, null, null, null, null, null, null, null, null, null, null, null, null
    from app.removed_questions(%(webinar_id)s, %(after)s) r
    where not %(admin)s
){PAGE_AND_HEAD}"""

# A new question has no upvotes yet (and Citus allows no subquery in an INSERT).
ASK_QUESTION = f"""
insert into questions as q (webinar_id, client_id, agency_id, user_id, display_name, body, is_public)
values (%(webinar_id)s, %(client_id)s, %(agency_id)s, %(user_id)s, %(display_name)s, %(body)s, %(is_public)s)
returning q.seq, {QUESTION_FIELDS}, 0::bigint as upvotes, false as upvoted
"""

# Answer, hide/unhide, pin/unpin; null leaves a field as it is. Status follows: hidden while
# hidden; otherwise answered once there is an answer, else pending. Answering a hidden question
# keeps it hidden until it is unhidden. For Citus, the clock is read in FROM (it evaluates no
# function inside a CASE of an UPDATE) and the upvotes by QUESTION_UPVOTES (the policies of
# reactions call functions, which Citus allows in no RETURNING clause).
MODERATE_QUESTION = f"""
update questions as q set
    answer = coalesce(%(answer)s, q.answer),
    answered_by = case when %(answer)s::text is not null then %(user_id)s else q.answered_by end,
    answered_at = case when %(answer)s::text is not null then clock.now else q.answered_at end,
    status = case
        when %(hidden)s::boolean then 'hidden'
        when %(hidden)s::boolean = false or q.status <> 'hidden' then
            case when coalesce(%(answer)s, q.answer) is not null then 'answered' else 'pending' end
        else q.status
    end,
    pinned = coalesce(%(pinned)s, q.pinned),
    updated_at = clock.now
from (select now() as now) as clock
where q.webinar_id = %(webinar_id)s and q.id = %(question_id)s
returning q.seq, {QUESTION_FIELDS}
"""

# The upvotes of one question, after MODERATE_QUESTION (same transaction).
QUESTION_UPVOTES = f"""
select {UPVOTE_FIELDS}
from questions q
where q.webinar_id = %(webinar_id)s and q.id = %(question_id)s
"""

UPVOTE_QUESTION = "select * from app.upvote_question(%(webinar_id)s, %(question_id)s, %(up)s)"

# The change window (chat/window.py) is read in one REPEATABLE READ transaction, so that the
# head, both audiences' pages and the personal changes below are one snapshot.
ONE_SNAPSHOT = "set transaction isolation level repeatable read, read only"

FEED_HEAD = """
select coalesce((select f.seq from chat_feeds f
                 where f.webinar_id = %(webinar_id)s and f.feed = %(feed)s), 0) as head
"""

# Who may see a change of the window otherwise than "any participant" or "any admin" does: the
# author of the row (their own hidden message, their private or pending question, `mine`) and,
# for a question, whoever has upvoted it (`upvoted`). For each, the last such change after the
# cursor. Read as an admin of the webinar, who sees every row and reaction of it.
PERSONAL_MESSAGE_CHANGES = """
select m.user_id, max(m.seq) as seq
from messages m
where m.webinar_id = %(webinar_id)s and m.seq > %(after)s
group by m.user_id
"""

PERSONAL_QUESTION_CHANGES = """
select personal.user_id, max(personal.seq) as seq
from (
    select q.user_id, q.seq
    from questions q
    where q.webinar_id = %(webinar_id)s and q.seq > %(after)s
    union all
    select r.user_id, q.seq
    from questions q
    join reactions r on r.webinar_id = q.webinar_id and r.target_type = 'question'
                    and r.target_id = q.id and r.kind = 'upvote'
    where q.webinar_id = %(webinar_id)s and q.seq > %(after)s
) personal
group by personal.user_id
"""
