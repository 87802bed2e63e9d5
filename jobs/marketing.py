"""The daily marketing rollup: marketing_stats_daily per client, day and campaign.

Days are calendar days in EVENTFLOW_STATS_TIMEZONE. For a campaign (campaign_link_meta's
campaign_id) on a day:
- registrations: registrations through any of its links made that day;
- attendees: those registrants who attended their webinar (rollup.attended, the one definition);
  an attendee is counted on the day they registered, so attendees/registrations is that day's
  conversion;
- emails_sent: recipients of email campaigns with that id sent that day (an email campaign's id
  is its campaign_id here; tag its links with the same id to see the funnel in one row).
Incremental: a run recomputes the (client, day, campaign) keys touched by registrations,
attendance rows or sent email campaigns changed since the watermark. Run it after the attendance
rollup, which it reads. Registrations are joined to their links by webinar as well as by link id
(a link belongs to one webinar), so that on Citus the join stays inside each webinar's shard.
"""

from eventflow.config import Settings
from jobs import watermarks
from jobs.worker import ROLLUPS, connect, job

JOB_NAME = "marketing"

ROLLUP = """
with touched as (
    select l.client_id, l.agency_id, (r.registered_at at time zone %(tz)s)::date as day, l.campaign_id
    from registrations r
    join campaign_link_meta l on l.target_webinar_id = r.webinar_id and l.id = r.campaign_link_id
    where r.campaign_link_id is not null and r.registered_at >= %(since)s
    union
    select l.client_id, l.agency_id, (r.registered_at at time zone %(tz)s)::date, l.campaign_id
    from webinar_attendance a
    join registrations r on r.webinar_id = a.webinar_id and r.user_id = a.user_id
    join campaign_link_meta l on l.target_webinar_id = r.webinar_id and l.id = r.campaign_link_id
    where a.updated_at >= %(since)s
    union
    select e.client_id, e.agency_id, (e.sent_at at time zone %(tz)s)::date, e.id
    from email_campaigns e
    where e.status = 'sent' and e.sent_at >= %(since)s
),
days as (
    select client_id, agency_id, day, campaign_id,
           day::timestamp at time zone %(tz)s as day_starts,
           (day + 1)::timestamp at time zone %(tz)s as day_ends
    from touched
),
funnel as (
    select d.client_id, d.day, d.campaign_id,
           count(*) as registrations,
           count(*) filter (where rollup.attended(a.watch_seconds, w.starts_at, w.ends_at, %(share)s::numeric))
               as attendees
    from days d
    join campaign_link_meta l on l.client_id = d.client_id and l.campaign_id = d.campaign_id
    join registrations r on r.webinar_id = l.target_webinar_id and r.campaign_link_id = l.id
                        and r.registered_at >= d.day_starts and r.registered_at < d.day_ends
    join webinars w on w.id = r.webinar_id
    left join webinar_attendance a on a.webinar_id = r.webinar_id and a.user_id = r.user_id
    group by d.client_id, d.day, d.campaign_id
),
emails as (
    select d.client_id, d.day, d.campaign_id, sum(e.recipients_count) as emails_sent
    from days d
    join email_campaigns e on e.id = d.campaign_id and e.client_id = d.client_id and e.status = 'sent'
                          and e.sent_at >= d.day_starts and e.sent_at < d.day_ends
    group by d.client_id, d.day, d.campaign_id
)
insert into marketing_stats_daily as m
    (client_id, agency_id, day, campaign_id, registrations, attendees, emails_sent, updated_at)
select d.client_id, d.agency_id, d.day, d.campaign_id, coalesce(f.registrations, 0), coalesce(f.attendees, 0),
       coalesce(e.emails_sent, 0), now()
from days d
left join funnel f on (f.client_id, f.day, f.campaign_id) = (d.client_id, d.day, d.campaign_id)
left join emails e on (e.client_id, e.day, e.campaign_id) = (d.client_id, d.day, d.campaign_id)
on conflict (client_id, day, campaign_id) do update
    set registrations = excluded.registrations,
        attendees = excluded.attendees,
        emails_sent = excluded.emails_sent,
        updated_at = excluded.updated_at
    where (m.registrations, m.attendees, m.emails_sent)
          is distinct from (excluded.registrations, excluded.attendees, excluded.emails_sent)
"""


def run(conn, settings, full=False):
    return watermarks.run_rollup(
        conn, JOB_NAME, ROLLUP, settings, full=full, tz=settings.stats_timezone, share=settings.attended_share
    )


@job(ROLLUPS, timeout=600, retries=2)
def rollup_marketing(full=False):
    with connect() as conn:
        return run(conn, Settings.from_env(), full=full)
