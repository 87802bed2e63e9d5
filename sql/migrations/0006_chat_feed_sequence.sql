-- Chat and Q&A feeds: a per-webinar change sequence that commits in order, for cursor polling.
--
-- Why not page on the identity ids: an identity value is taken when a row is inserted, not when
-- it commits. Writer A takes id 10, writer B takes id 11 and commits first; a poll between the
-- two commits sees 11, hands out the cursor "after 11", and never sees 10. Paging on created_at
-- has the same hole.
--
-- What we do instead: every change to a message or a question (the insert, and every later
-- update: hiding, answering, pinning, an upvote) takes the next number of its webinar's feed,
-- `chat_feeds.seq`, with an upsert that holds that feed row's lock until the writer commits or
-- rolls back. So within one webinar:
--   * the numbers are handed out one writer at a time, and a writer's number is visible no
--     later than the next writer's (commit order = seq order);
--   * a rolled-back writer's number is taken again by the next one, so there are no gaps;
--   * a snapshot that sees `chat_feeds.seq = h` sees every change numbered up to h, and no
--     change numbered up to h can commit later. "After h" is therefore an exact cursor: a poll
--     never skips or repeats a change.
-- The cost is that writers of one webinar's feed queue behind each other for the few
-- milliseconds between their insert and their commit; messages and questions are separate feeds
-- (separate rows), so chat and Q&A do not wait for each other, and webinars never do.
-- The alternative (serve only rows written by transactions older than the oldest one still in
-- flight, via pg_snapshot_xmin) needs no lock, but any long transaction anywhere in the cluster
-- (a rollup job, a migration) would then stall every webinar's chat.
--
-- A change moves a row to the end of its feed with a new seq, so a poll after the cursor also
-- brings what was edited, answered or hidden since. The numbers are assigned by triggers, so
-- every writer (the app, the demo seed, a DBA's fix) keeps the feed exact. Per-row triggers are
-- otherwise avoided on hot tables; this one is the point of the table, not a counter on the side.

-- The trigger functions below live in the app schema (policies/01_request_context.sql makes it
-- and grants its use); make sure it exists however the migrations are run.
create schema if not exists app;

create table chat_feeds (
    webinar_id  uuid not null,
    feed        text not null check (feed in ('messages', 'questions')),
    client_id   uuid not null,
    agency_id   uuid not null,
    seq         bigint not null check (seq > 0),
    primary key (webinar_id, feed),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index chat_feeds_client_id_idx on chat_feeds (client_id);
create index chat_feeds_agency_id_idx on chat_feeds (agency_id);

-- Number the rows that already exist, in id order (nothing is polling them yet).
alter table messages add column seq bigint;
update messages m set seq = n.seq
from (select webinar_id, id, row_number() over (partition by webinar_id order by id) as seq from messages) n
where n.webinar_id = m.webinar_id and n.id = m.id;
alter table messages alter column seq set not null;
create unique index messages_feed_idx on messages (webinar_id, seq);

alter table questions add column seq bigint;
update questions q set seq = n.seq
from (select webinar_id, id, row_number() over (partition by webinar_id order by id) as seq from questions) n
where n.webinar_id = q.webinar_id and n.id = q.id;
alter table questions alter column seq set not null;
create unique index questions_feed_idx on questions (webinar_id, seq);

insert into chat_feeds (webinar_id, feed, client_id, agency_id, seq)
select webinar_id, 'messages', client_id, agency_id, max(seq) from messages group by 1, 2, 3, 4
union all
select webinar_id, 'questions', client_id, agency_id, max(seq) from questions group by 1, 2, 3, 4;

-- Upvote counts are read from reactions by this index's prefix.
create index reactions_target_idx on reactions (webinar_id, target_type, target_id, kind);

-- Takes the feed's next number for the row being written (TG_ARGV[0] names the feed).
-- SECURITY DEFINER because no app role may write chat_feeds directly; the row's own insert or
-- update is still checked by the table's policies, and if they refuse it the number is rolled
-- back with it.
create function app.take_feed_seq() returns trigger
    language plpgsql security definer set search_path = pg_catalog
    as $$
begin
    insert into public.chat_feeds as f (webinar_id, feed, client_id, agency_id, seq)
    values (new.webinar_id, tg_argv[0], new.client_id, new.agency_id, 1)
    on conflict (webinar_id, feed) do update set seq = f.seq + 1
    returning f.seq into new.seq;
    return new;
end
$$;
revoke all on function app.take_feed_seq() from public;

create trigger messages_take_feed_seq before insert or update on messages
    for each row execute function app.take_feed_seq('messages');
create trigger questions_take_feed_seq before insert or update on questions
    for each row execute function app.take_feed_seq('questions');

-- An upvote (or its withdrawal) changes the question's count: touch the question so that it
-- takes a new seq and reaches the polls. DEFINER because participants may not update questions;
-- it only touches the question the reaction names, in the reaction's own webinar.
create function app.touch_reacted_question() returns trigger
    language plpgsql security definer set search_path = pg_catalog
    as $$
declare
    reaction public.reactions;
begin
    if tg_op = 'DELETE' then reaction := old; else reaction := new; end if;
    if reaction.target_type = 'question' then
        update public.questions set updated_at = now()
        where webinar_id = reaction.webinar_id and id = reaction.target_id;
    end if;
    return null;
end
$$;
revoke all on function app.touch_reacted_question() from public;

create trigger reactions_touch_question after insert or delete on reactions
    for each row execute function app.touch_reacted_question();
