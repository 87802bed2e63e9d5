-- How the schema is spread over a Citus cluster. Applied by `eventflow db upgrade` (after the
-- migrations, the functions and the policies) on a database where the citus extension exists;
-- a table already distributed is left as it is, so applying it again changes nothing.
--
--   reference tables (a full copy on every node): the tenant tree's small, shared tables, which
--     every query may join, and the jobs' watermarks;
--   distributed by webinar_id, colocated with webinars by id: everything inside a webinar. A
--     webinar's rows of every table live on one shard group, so the hot path, the polls, the
--     snapshot and the dashboard, which all name one webinar, run on one node;
--   distributed by client_id, a colocation group of their own: the client-level tables, which
--     their admins read per client.
-- The shard count is citus.shard_count when a table is first distributed (deploy/citus/cluster.sh
-- sets it per database; production keeps Citus' default of 32).
--
-- Citus distributes a table only when no plain table holds a foreign key to it, and the tables
-- here are linked by foreign keys: so in one transaction, the foreign keys of every table still
-- to distribute are dropped, the tables distributed in order, and the same keys added back.
-- Triggers on distributed tables (the chat feed's, migration 0006) need enable_unsafe_triggers;
-- their functions only touch the same webinar's colocated shards.
set local citus.enable_unsafe_triggers = on;
-- One connection per node for the whole transaction: the foreign keys added back reach shards,
-- and reference tables' placements, that this same transaction created.
set local citus.multi_shard_modify_mode = 'sequential';

create temp table distribution_plan on commit drop as
select t.step, t.tbl::regclass as tbl, t.how, t.col, t.colocate_with
from (values
    (1, 'agencies', 'reference', null, null),
    (2, 'clients', 'reference', null, null),
    (3, 'rollup.watermarks', 'reference', null, null),
    (10, 'webinars', 'hash', 'id', 'none'),
    (11, 'registrations', 'hash', 'webinar_id', 'webinars'),
    (12, 'webinar_live_presence', 'hash', 'webinar_id', 'webinars'),
    (13, 'webinar_user_sessions', 'hash', 'webinar_id', 'webinars'),
    (14, 'webinar_access_logs', 'hash', 'webinar_id', 'webinars'),
    (15, 'webinar_attendance', 'hash', 'webinar_id', 'webinars'),
    (16, 'chat_feeds', 'hash', 'webinar_id', 'webinars'),
    (17, 'messages', 'hash', 'webinar_id', 'webinars'),
    (18, 'questions', 'hash', 'webinar_id', 'webinars'),
    (19, 'reactions', 'hash', 'webinar_id', 'webinars'),
    (20, 'webinar_files', 'hash', 'webinar_id', 'webinars'),
    (21, 'webinar_downloads', 'hash', 'webinar_id', 'webinars'),
    (22, 'forms', 'hash', 'webinar_id', 'webinars'),
    (23, 'form_submissions', 'hash', 'webinar_id', 'webinars'),
    (24, 'form_answers', 'hash', 'webinar_id', 'webinars'),
    (25, 'quizzes', 'hash', 'webinar_id', 'webinars'),
    (26, 'quiz_attempts', 'hash', 'webinar_id', 'webinars'),
    (27, 'quiz_responses', 'hash', 'webinar_id', 'webinars'),
    (28, 'event_survey_campaigns', 'hash', 'webinar_id', 'webinars'),
    (29, 'event_survey_entries', 'hash', 'webinar_id', 'webinars'),
    (30, 'draws', 'hash', 'webinar_id', 'webinars'),
    (31, 'draw_winners', 'hash', 'webinar_id', 'webinars'),
    (32, 'campaign_link_meta', 'hash', 'target_webinar_id', 'webinars'),
    (40, 'email_campaigns', 'hash', 'client_id', 'none'),
    (41, 'client_email_policies', 'hash', 'client_id', 'email_campaigns'),
    (42, 'marketing_stats_daily', 'hash', 'client_id', 'email_campaigns'),
    (43, 'notes', 'hash', 'client_id', 'email_campaigns'),
    (44, 'note_comments', 'hash', 'client_id', 'email_campaigns'),
    (45, 'client_invitations', 'hash', 'client_id', 'email_campaigns')
) as t (step, tbl, how, col, colocate_with)
where not exists (select from pg_catalog.pg_dist_partition p where p.logicalrelid = t.tbl::regclass);

create temp table foreign_keys_to_restore on commit drop as
select c.conrelid::regclass as tbl, c.conname, pg_catalog.pg_get_constraintdef(c.oid) as definition
from pg_catalog.pg_constraint c
where c.contype = 'f'
  and (c.conrelid in (select tbl from distribution_plan) or c.confrelid in (select tbl from distribution_plan));

do $$
declare
    fk record;
    plan record;
begin
    for fk in select * from foreign_keys_to_restore loop
        execute format('alter table %s drop constraint %I', fk.tbl, fk.conname);
    end loop;
    for plan in select * from distribution_plan order by step loop
        if plan.how = 'reference' then
            perform create_reference_table(plan.tbl);
        else
            perform create_distributed_table(plan.tbl, plan.col, colocate_with => plan.colocate_with);
        end if;
    end loop;
    for fk in select * from foreign_keys_to_restore loop
        execute format('alter table %s add constraint %I %s', fk.tbl, fk.conname, fk.definition);
    end loop;
end
$$;
