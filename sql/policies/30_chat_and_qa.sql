-- messages, questions, reactions: what viewers say during a webinar; chat_feeds: where each
-- webinar's chat and Q&A feed has got to (see migration 0006), read by the polls.

call app.reset_security('messages');
-- Admins moderate by hiding; the feed trigger sets seq as the schema owner. Nothing else in a
-- message is ever rewritten.
grant select, insert on messages to eventflow_app;
grant update (hidden) on messages to eventflow_app;

create policy "participants read visible messages of their webinar" on messages
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id()
           and (not hidden or user_id = app.participant_id()));
create policy "participants post messages as themselves" on messages
    for insert to eventflow_app
    with check (webinar_id = app.participant_webinar_id()
                and user_id = app.participant_id()
                and author_role = 'participant' and not hidden
                and app.participant_webinar_open(webinar_id));
create policy "admins manage their tenant's messages" on messages
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());


call app.reset_security('questions');
-- Admins answer, hide and pin (eventflow/chat/queries.py MODERATE_QUESTION); an upvote touches
-- updated_at through app.touch_reacted_question, as the schema owner. Who asked what stays put.
grant select, insert on questions to eventflow_app;
grant update (answer, answered_by, answered_at, status, pinned, updated_at) on questions to eventflow_app;

-- What a webinar's Q&A shows a viewer: their own questions and the answered public ones.
create policy "participants read their own and answered public questions" on questions
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id()
           and (user_id = app.participant_id() or (status = 'answered' and is_public)));
create policy "participants ask questions as themselves" on questions
    for insert to eventflow_app
    with check (webinar_id = app.participant_webinar_id()
                and user_id = app.participant_id()
                and status = 'pending' and not pinned
                and answer is null and answered_by is null and answered_at is null
                and app.participant_webinar_open(webinar_id));
create policy "admins manage their tenant's questions" on questions
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());


call app.reset_security('reactions');
grant select, insert, delete on reactions to eventflow_app;

create policy "participants read reactions in their webinar" on reactions
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id());
create policy "participants react as themselves" on reactions
    for insert to eventflow_app
    with check (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
                and app.participant_webinar_open(webinar_id));
create policy "participants withdraw their own reactions" on reactions
    for delete to eventflow_app
    using (webinar_id = app.participant_webinar_id() and user_id = app.participant_id());
-- Admins see the upvote counts; reacting is the viewers' own business.
create policy "admins read their tenant's reactions" on reactions
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());


call app.reset_security('chat_feeds');
-- Written only by the feed trigger (app.take_feed_seq, as the schema owner); read by the polls.
grant select on chat_feeds to eventflow_app;

create policy "participants read the feeds of their webinar" on chat_feeds
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id());
create policy "admins read their tenant's feeds" on chat_feeds
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());


-- What a participant's poll must be told to take away: rows of their webinar changed after the
-- cursor that the policies above now hide from them (hidden messages, hidden questions), as
-- (seq, id) and nothing else. Other people's rows only: the caller still sees their own.
-- DEFINER because the policies hide exactly these rows; it answers only inside the caller's own
-- participant context. On Citus the poll runs on the webinar's shard, and so does this function
-- inside it: nested execution is allowed because it reads only that webinar, on the same node
-- (on plain PostgreSQL the setting is an unused placeholder).
create or replace function app.removed_messages(webinar uuid, after_seq bigint)
    returns table (seq bigint, id bigint)
    language sql stable security definer set search_path = pg_catalog
    set citus.allow_nested_distributed_execution = on
    as $$
select m.seq, m.id from public.messages m
where m.webinar_id = webinar and webinar = app.participant_webinar_id()
  and m.seq > after_seq and m.hidden and m.user_id <> app.participant_id()
$$;

create or replace function app.removed_questions(webinar uuid, after_seq bigint)
    returns table (seq bigint, id bigint)
    language sql stable security definer set search_path = pg_catalog
    set citus.allow_nested_distributed_execution = on
    as $$
select q.seq, q.id from public.questions q
where q.webinar_id = webinar and webinar = app.participant_webinar_id()
  and q.seq > after_seq and q.status = 'hidden' and q.user_id <> app.participant_id()
$$;

-- Upvote a question the caller can see, once; SECURITY INVOKER, so the policies decide both
-- what "can see" means and whether the reaction may be written. No row when the question is not
-- visible. The voter is the context's participant (app.participant_id(): NULL for any other role,
-- whose insert is then refused). The reaction trigger moves the question to the end of its feed.
create or replace function app.upvote_question(webinar uuid, question bigint, up boolean)
    returns table (upvotes bigint, upvoted boolean, seq bigint)
    language plpgsql security invoker set search_path = pg_catalog
    as $$
declare
    target public.questions;
    -- In a variable: Citus evaluates no function inside a CASE (the helper is one) of a DELETE.
    voter uuid := app.participant_id();
begin
    select * into target from public.questions q where q.webinar_id = webinar and q.id = question;
    if not found then
        return;
    end if;
    if up then
        insert into public.reactions (webinar_id, client_id, agency_id, user_id, target_type, target_id, kind)
        values (target.webinar_id, target.client_id, target.agency_id, voter, 'question', target.id, 'upvote')
        on conflict do nothing;
    else
        delete from public.reactions r
        where r.webinar_id = webinar and r.target_type = 'question' and r.target_id = question
          and r.kind = 'upvote' and r.user_id = voter;
    end if;
    return query
        select (select count(*) from public.reactions r
                where r.webinar_id = webinar and r.target_type = 'question' and r.target_id = question
                  and r.kind = 'upvote'),
               up,
               (select q.seq from public.questions q where q.webinar_id = webinar and q.id = question);
end
$$;

revoke all on function app.removed_messages(uuid, bigint), app.removed_questions(uuid, bigint),
    app.upvote_question(uuid, bigint, boolean) from public;
grant execute on function app.removed_messages(uuid, bigint), app.removed_questions(uuid, bigint),
    app.upvote_question(uuid, bigint, boolean) to eventflow_app;
