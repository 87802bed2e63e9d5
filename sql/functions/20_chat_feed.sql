-- The chat and Q&A feed triggers' functions (the triggers themselves are schema: migration
-- 0006_chat_feed_sequence.sql, which explains the feed). Re-applied by every `db upgrade`.
--
-- On Citus the triggers fire on the shards, on the workers: each function only touches rows of
-- the webinar being written (chat_feeds and questions, colocated with it), which Citus allows a
-- trigger to reach on the same node.

-- Takes the feed's next number for the row being written (TG_ARGV[0] names the feed).
-- SECURITY DEFINER because no app role may write chat_feeds directly; the row's own insert or
-- update is still checked by the table's policies, and if they refuse it the number is rolled
-- back with it.
create or replace function app.take_feed_seq() returns trigger
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

-- An upvote (or its withdrawal) changes the question's count: touch the question so that it
-- takes a new seq and reaches the polls. DEFINER because participants may not update questions;
-- it only touches the question the reaction names, in the reaction's own webinar.
create or replace function app.touch_reacted_question() returns trigger
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
