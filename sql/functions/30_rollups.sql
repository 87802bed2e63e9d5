-- The one definition of "attended", shared by the dashboard, the attendance export and the
-- marketing rollup: a viewer (watch_seconds not null) who watched at least `share` of the
-- webinar's scheduled length (ends_at - starts_at). Re-applied by every `db upgrade`.
--
-- One expression with a SQL-standard body: bound when it is created (no search_path can redirect
-- it) and inlined into the queries that call it once per registration. The earlier form set
-- search_path, which forbids inlining: every row paid a function call and a search_path switch,
-- which made the dashboard's registrants section 38 ms at 4,000 registrations (bench/RESULTS.md).
create or replace function rollup.attended(watch_seconds integer, starts_at timestamptz, ends_at timestamptz,
                                           share numeric)
    returns boolean
    language sql immutable parallel safe
    return watch_seconds is not null and watch_seconds >= ceil(share * extract(epoch from ends_at - starts_at));
