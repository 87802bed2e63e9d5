-- A realistic demo: two agencies with two clients each, every client with a live and an ended
-- webinar, twenty viewers per webinar, and rows in every table. Set-based; run as the owner.

create temp table demo_people on commit drop as
select w.id as webinar_id, w.client_id, w.agency_id, w.starts_at, w.ends_at, w.status,
       gen_random_uuid() as user_id, n as viewer_no,
       (array['Minji', 'Jisoo', 'Hyun', 'Seo-yeon', 'Dong-hyun', 'Alex', 'Maria', 'Kenji', 'Priya', 'Tom'])[1 + n % 10]
           || ' ' || chr(65 + n % 26) || '.' as display_name
from webinars w
cross join generate_series(1, 20) as n
where w.id in (select id from seed_webinars);

insert into campaign_link_meta (client_id, agency_id, campaign_id, target_webinar_id, utm_source, utm_medium, utm_campaign)
select distinct on (p.webinar_id) p.client_id, p.agency_id, gen_random_uuid(), p.webinar_id, 'newsletter', 'email', 'spring-launch'
from demo_people p;

insert into registrations (webinar_id, user_id, client_id, agency_id, display_name, campaign_link_id, registered_at)
select p.webinar_id, p.user_id, p.client_id, p.agency_id, p.display_name,
       case when p.viewer_no % 2 = 0 then l.id end,
       p.starts_at - make_interval(days => p.viewer_no % 7, hours => p.viewer_no)
from demo_people p
join campaign_link_meta l on l.target_webinar_id = p.webinar_id;

-- Two thirds of the registrants watched; in a live webinar they are still connected.
insert into webinar_user_sessions (webinar_id, session_id, user_id, client_id, agency_id,
                                   user_agent, entered_at, last_heartbeat_at, exited_at)
select p.webinar_id, gen_random_uuid(), p.user_id, p.client_id, p.agency_id, 'Mozilla/5.0 (demo)',
       least(p.starts_at, now()) + make_interval(mins => p.viewer_no),
       case when p.status = 'live' then now() - make_interval(secs => p.viewer_no)
            else p.starts_at + make_interval(mins => 30 + p.viewer_no * 2) end,
       case when p.status = 'live' then null
            else p.starts_at + make_interval(mins => 30 + p.viewer_no * 2) end
from demo_people p
where p.viewer_no % 3 <> 0;

insert into webinar_live_presence (webinar_id, user_id, client_id, agency_id, display_name,
                                   session_id, joined_at, last_seen_at)
select s.webinar_id, s.user_id, s.client_id, s.agency_id, p.display_name, s.session_id,
       s.entered_at, s.last_heartbeat_at
from webinar_user_sessions s
join demo_people p on p.webinar_id = s.webinar_id and p.user_id = s.user_id
where p.status = 'live';

insert into webinar_access_logs (webinar_id, time_bucket, client_id, agency_id, concurrent_viewers, unique_viewers)
select w.id, b, w.client_id, w.agency_id, 10 + (extract(minute from b)::int % 4), 13
from webinars w
cross join generate_series(date_bin('5 minutes', w.starts_at, timestamptz '2000-01-01'),
                           least(w.ends_at, now()), interval '5 minutes') as b
where w.id in (select id from seed_webinars) and w.starts_at < now();

insert into messages (webinar_id, client_id, agency_id, user_id, author_role, display_name, body, hidden, created_at)
select p.webinar_id, p.client_id, p.agency_id, p.user_id, 'participant', p.display_name,
       (array['Hello from Seoul!', 'Can you share the slides?', 'Great point about retention.',
              'Audio is clear now.', 'Thanks for the session!'])[1 + p.viewer_no % 5],
       p.viewer_no = 7, least(p.starts_at, now()) + make_interval(mins => p.viewer_no)
from demo_people p;

insert into questions (webinar_id, client_id, agency_id, user_id, display_name, body, status,
                       is_public, pinned, answer, answered_by, answered_at, created_at)
select p.webinar_id, p.client_id, p.agency_id, p.user_id, p.display_name,
       'Question ' || p.viewer_no || ': will the recording be available?',
       case when p.viewer_no % 4 = 0 then 'answered' when p.viewer_no = 5 then 'hidden' else 'pending' end,
       true, p.viewer_no = 4,
       case when p.viewer_no % 4 = 0 then 'Yes, within 24 hours.' end,
       case when p.viewer_no % 4 = 0 then p.client_id end,
       case when p.viewer_no % 4 = 0 then least(p.starts_at, now()) + interval '40 minutes' end,
       least(p.starts_at, now()) + make_interval(mins => p.viewer_no)
from demo_people p
where p.viewer_no % 2 = 0;

insert into reactions (webinar_id, client_id, agency_id, user_id, target_type, target_id, kind)
select q.webinar_id, q.client_id, q.agency_id, p.user_id, 'question', q.id, 'upvote'
from questions q
join demo_people p on p.webinar_id = q.webinar_id and p.viewer_no % 3 = 1
where q.webinar_id in (select id from seed_webinars);

insert into webinar_files (webinar_id, client_id, agency_id, file_name, url, size_bytes)
select w.id, w.client_id, w.agency_id, f.name, 'https://files.eventflow.kr/' || w.id || '/' || f.name, f.size
from webinars w
cross join (values ('slides.pdf', 2400000), ('checklist.pdf', 180000)) as f(name, size)
where w.id in (select id from seed_webinars);

insert into webinar_downloads (webinar_id, file_id, user_id, client_id, agency_id)
select f.webinar_id, f.id, p.user_id, f.client_id, f.agency_id
from webinar_files f
join demo_people p on p.webinar_id = f.webinar_id and p.viewer_no % 4 = 1;

insert into forms (webinar_id, client_id, agency_id, title, fields)
select w.id, w.client_id, w.agency_id, 'Contact me after the webinar',
       '[{"key": "company", "label": "Company"}, {"key": "interest", "label": "Interest"}]'
from webinars w where w.id in (select id from seed_webinars);

insert into form_submissions (webinar_id, form_id, user_id, client_id, agency_id)
select f.webinar_id, f.id, p.user_id, f.client_id, f.agency_id
from forms f
join demo_people p on p.webinar_id = f.webinar_id and p.viewer_no % 5 = 0;

insert into form_answers (webinar_id, submission_id, field_key, user_id, client_id, agency_id, answer)
select s.webinar_id, s.id, k.key, s.user_id, s.client_id, s.agency_id, k.answer
from form_submissions s
cross join (values ('company', 'Acme Korea'), ('interest', 'Pricing')) as k(key, answer)
where s.webinar_id in (select id from seed_webinars);

insert into quizzes (webinar_id, client_id, agency_id, title, questions)
select w.id, w.client_id, w.agency_id, 'Warm-up quiz',
       '[{"no": 0, "text": "2 + 2?", "answer": "4"}, {"no": 1, "text": "Capital of Korea?", "answer": "Seoul"}]'
from webinars w where w.id in (select id from seed_webinars);

insert into quiz_attempts (webinar_id, quiz_id, user_id, client_id, agency_id, score, finished_at)
select q.webinar_id, q.id, p.user_id, q.client_id, q.agency_id, 1 + p.viewer_no % 2, now()
from quizzes q
join demo_people p on p.webinar_id = q.webinar_id and p.viewer_no % 3 = 2;

insert into quiz_responses (webinar_id, attempt_id, question_no, user_id, client_id, agency_id, answer, is_correct)
select a.webinar_id, a.id, n, a.user_id, a.client_id, a.agency_id,
       case when n = 0 then '4' else 'Seoul' end, n < a.score
from quiz_attempts a
cross join generate_series(0, 1) as n
where a.webinar_id in (select id from seed_webinars);

insert into event_survey_campaigns (webinar_id, client_id, agency_id, title, opens_at, closes_at)
select w.id, w.client_id, w.agency_id, 'How was the webinar?', w.starts_at, w.ends_at + interval '7 days'
from webinars w where w.id in (select id from seed_webinars);

insert into event_survey_entries (webinar_id, campaign_id, user_id, client_id, agency_id, answers)
select c.webinar_id, c.id, p.user_id, c.client_id, c.agency_id,
       jsonb_build_object('rating', 3 + p.viewer_no % 3, 'comment', 'Useful')
from event_survey_campaigns c
join demo_people p on p.webinar_id = c.webinar_id and p.viewer_no % 4 = 2;

insert into draws (webinar_id, client_id, agency_id, title, prize, winner_count, drawn_at)
select w.id, w.client_id, w.agency_id, 'Lucky draw', 'Coffee voucher', 2,
       case when w.status = 'ended' then w.ends_at end
from webinars w where w.id in (select id from seed_webinars);

insert into draw_winners (webinar_id, draw_id, user_id, client_id, agency_id, display_name)
select d.webinar_id, d.id, p.user_id, d.client_id, d.agency_id, p.display_name
from draws d
join demo_people p on p.webinar_id = d.webinar_id and p.viewer_no in (3, 11)
where d.drawn_at is not null;

insert into email_campaigns (client_id, agency_id, target_webinar_id, subject, status, recipients_count, sent_at)
select w.client_id, w.agency_id, w.id, 'You are invited: ' || w.title, 'sent', 500, w.starts_at - interval '3 days'
from webinars w where w.id in (select id from seed_webinars);

insert into client_email_policies (client_id, agency_id, sender_name, sender_email, daily_send_limit, unsubscribe_footer)
select distinct w.client_id, w.agency_id, 'EventFlow demo', 'events@example.com', 5000, 'Unsubscribe any time.'
from webinars w where w.id in (select id from seed_webinars);

insert into marketing_stats_daily (client_id, agency_id, day, campaign_id, registrations, attendees, emails_sent)
select l.client_id, l.agency_id, (w.starts_at - interval '1 day')::date, l.campaign_id, 10, 7, 500
from campaign_link_meta l
join webinars w on w.id = l.target_webinar_id
where w.id in (select id from seed_webinars);

insert into notes (client_id, agency_id, webinar_id, author_id, body)
select w.client_id, w.agency_id, w.id, w.client_id, 'Speaker asked for a 10-minute Q&A buffer.'
from webinars w where w.id in (select id from seed_webinars);

insert into note_comments (client_id, agency_id, note_id, author_id, body)
select n.client_id, n.agency_id, n.id, n.author_id, 'Agreed, added to the run sheet.'
from notes n
where n.webinar_id in (select id from seed_webinars);

insert into client_invitations (client_id, agency_id, email, invited_by, token_hash, expires_at)
select c.id, c.agency_id, 'new.admin+' || left(c.id::text, 8) || '@example.com', c.id,
       md5(gen_random_uuid()::text), now() + interval '7 days'
from clients c
where c.id in (select w.client_id from webinars w where w.id in (select id from seed_webinars));

-- What the attendance job would compute from the sessions above (one session per viewer).
insert into webinar_attendance (webinar_id, user_id, client_id, agency_id, first_join_at, last_leave_at,
                                watch_seconds, sessions, rejoins)
select s.webinar_id, s.user_id, s.client_id, s.agency_id, s.entered_at,
       coalesce(s.exited_at, s.last_heartbeat_at),
       floor(extract(epoch from coalesce(s.exited_at, s.last_heartbeat_at) - s.entered_at))::integer, 1, 0
from webinar_user_sessions s
where s.webinar_id in (select id from seed_webinars);
