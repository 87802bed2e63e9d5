"""SQL of the dashboard and the attendance export. Row-level security scopes every statement to
the admin's tenant; the session figures come from the rollups (webinar_attendance,
webinar_access_logs), never from raw sessions, so a dashboard costs the same at 20 or 20,000
viewers. "Attended" is always rollup.attended(...) with EVENTFLOW_ATTENDED_SHARE."""

CHAT = """
select count(*) as messages,
       count(distinct user_id) as senders,
       count(*) filter (where hidden) as hidden,
       count(*) filter (where author_role <> 'participant') as from_admins
from messages
where webinar_id = %(webinar_id)s
"""

QA = """
select count(*) as asked,
       count(*) filter (where status = 'answered') as answered,
       count(*) filter (where status = 'pending') as pending,
       count(*) filter (where status = 'hidden') as hidden,
       count(distinct user_id) as askers
from questions
where webinar_id = %(webinar_id)s
"""

FORMS = """
select f.id as form_id, f.title, count(s.id) as submissions
from forms f
left join form_submissions s on s.webinar_id = f.webinar_id and s.form_id = f.id
where f.webinar_id = %(webinar_id)s
group by f.id, f.title, f.created_at
order by f.created_at, f.id
"""

FORM_RESPONDENTS = """
select count(distinct user_id) as respondents from form_submissions where webinar_id = %(webinar_id)s
"""

GIVEAWAYS = """
select d.id as draw_id, d.title, d.prize, d.winner_count, d.drawn_at, count(dw.user_id) as winners
from draws d
left join draw_winners dw on dw.webinar_id = d.webinar_id and dw.draw_id = d.id
where d.webinar_id = %(webinar_id)s
group by d.id, d.title, d.prize, d.winner_count, d.drawn_at, d.created_at
order by d.created_at, d.id
"""

FILES = """
select f.id as file_id, f.file_name, count(d.id) as downloads, count(distinct d.user_id) as downloaders
from webinar_files f
left join webinar_downloads d on d.webinar_id = f.webinar_id and d.file_id = f.id
where f.webinar_id = %(webinar_id)s
group by f.id, f.file_name, f.created_at
order by f.created_at, f.id
"""

FILE_DOWNLOADERS = """
select count(distinct user_id) as downloaders from webinar_downloads where webinar_id = %(webinar_id)s
"""

REGISTRANTS = """
select count(*) as total,
       count(a.user_id) as viewed,
       count(*) filter (where rollup.attended(a.watch_seconds, w.starts_at, w.ends_at, %(share)s::numeric))
           as attended,
       count(*) filter (where a.user_id is null) as no_shows,
       count(*) filter (where r.campaign_link_id is not null) as via_campaign_links
from registrations r
join webinars w on w.id = r.webinar_id
left join webinar_attendance a on a.webinar_id = r.webinar_id and a.user_id = r.user_id
where r.webinar_id = %(webinar_id)s
"""

REGISTRATION_TIMELINE = """
select (registered_at at time zone %(tz)s)::date as day, count(*) as registrations
from registrations
where webinar_id = %(webinar_id)s
group by 1
order by 1
"""

# "Live now" is the contract's: a last ping younger than the presence timeout.
LIVE_NOW = """
select count(*) as live_now
from webinar_live_presence
where webinar_id = %(webinar_id)s and last_seen_at > now() - make_interval(secs => %(timeout)s)
"""

ACCESS_SERIES = """
select time_bucket, concurrent_viewers, unique_viewers, updated_at
from webinar_access_logs
where webinar_id = %(webinar_id)s
order by time_bucket
"""

SURVEY = """
select c.id as campaign_id, c.title, c.opens_at, c.closes_at, count(e.id) as entries
from event_survey_campaigns c
left join event_survey_entries e on e.webinar_id = c.webinar_id and e.campaign_id = c.id
where c.webinar_id = %(webinar_id)s
group by c.id, c.title, c.opens_at, c.closes_at, c.created_at
order by c.created_at, c.id
"""

SESSIONS = """
select coalesce(sum(sessions), 0) as sessions,
       count(*) as unique_viewers,
       coalesce(sum(watch_seconds), 0) as total_watch_seconds,
       coalesce(round(avg(watch_seconds), 1), 0) as average_watch_seconds,
       coalesce(percentile_cont(0.5) within group (order by watch_seconds), 0) as median_watch_seconds,
       coalesce(sum(rejoins), 0) as rejoins,
       count(*) filter (where rejoins > 0) as viewers_who_rejoined,
       max(updated_at) as rolled_up_at
from webinar_attendance
where webinar_id = %(webinar_id)s
"""

# One row per registrant or viewer (a viewer who never registered has registered = false).
ATTENDANCE = """
select coalesce(r.user_id, a.user_id) as user_id,
       coalesce(r.display_name, '') as display_name,
       r.user_id is not null as registered,
       r.registered_at,
       a.first_join_at,
       a.last_leave_at,
       coalesce(a.watch_seconds, 0) as watch_seconds,
       coalesce(a.sessions, 0) as sessions,
       coalesce(a.rejoins, 0) as rejoins,
       rollup.attended(a.watch_seconds, w.starts_at, w.ends_at, %(share)s::numeric) as attended
from (select * from registrations where webinar_id = %(webinar_id)s) r
full join (select * from webinar_attendance where webinar_id = %(webinar_id)s) a on a.user_id = r.user_id
cross join (select starts_at, ends_at from webinars where id = %(webinar_id)s) w
order by a.first_join_at nulls last, coalesce(r.user_id, a.user_id)
"""

# The export's transaction stays open while its client reads; bound how long it may sit idle.
BOUND_IDLE_TRANSACTION = "select set_config('idle_in_transaction_session_timeout', %(timeout)s, true)"
