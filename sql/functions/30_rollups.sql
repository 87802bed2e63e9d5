-- The one definition of "attended", shared by the dashboard, the attendance export and the
-- marketing rollup: a viewer (watch_seconds not null) who watched at least `share` of the
-- webinar's scheduled length (ends_at - starts_at). Re-applied by every `db upgrade`.
create or replace function rollup.attended(watch_seconds integer, starts_at timestamptz, ends_at timestamptz,
                                           share numeric)
    returns boolean
    language sql immutable set search_path = pg_catalog
    as $$ select watch_seconds is not null and watch_seconds >= ceil(share * extract(epoch from ends_at - starts_at)) $$;
