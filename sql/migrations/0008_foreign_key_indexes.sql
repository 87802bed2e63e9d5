-- Every foreign key gets an index that covers it (`eventflow db check` fails without one, after
-- Supabase's splinter lint "unindexed foreign keys"). Without one, deleting a webinar, a client,
-- a campaign link or a quiz, or changing its key, scans each referencing table under a lock.
-- Most are the (webinar_id, client_id, agency_id) keys with which every webinar-scoped table
-- proves that its org fields are its webinar's own (see migration 0001).

create index chat_feeds_webinar_client_agency_idx on chat_feeds (webinar_id, client_id, agency_id);
create index draw_winners_webinar_client_agency_idx on draw_winners (webinar_id, client_id, agency_id);
create index draws_webinar_client_agency_idx on draws (webinar_id, client_id, agency_id);
create index event_survey_campaigns_webinar_client_agency_idx on event_survey_campaigns (webinar_id, client_id, agency_id);
create index event_survey_entries_webinar_client_agency_idx on event_survey_entries (webinar_id, client_id, agency_id);
create index form_answers_webinar_client_agency_idx on form_answers (webinar_id, client_id, agency_id);
create index form_submissions_webinar_client_agency_idx on form_submissions (webinar_id, client_id, agency_id);
create index forms_webinar_client_agency_idx on forms (webinar_id, client_id, agency_id);
create index messages_webinar_client_agency_idx on messages (webinar_id, client_id, agency_id);
create index questions_webinar_client_agency_idx on questions (webinar_id, client_id, agency_id);
create index quiz_attempts_webinar_client_agency_idx on quiz_attempts (webinar_id, client_id, agency_id);
create index quiz_responses_webinar_client_agency_idx on quiz_responses (webinar_id, client_id, agency_id);
create index quizzes_webinar_client_agency_idx on quizzes (webinar_id, client_id, agency_id);
create index reactions_webinar_client_agency_idx on reactions (webinar_id, client_id, agency_id);
create index webinar_access_logs_webinar_client_agency_idx on webinar_access_logs (webinar_id, client_id, agency_id);
create index webinar_attendance_webinar_client_agency_idx on webinar_attendance (webinar_id, client_id, agency_id);
create index webinar_downloads_webinar_client_agency_idx on webinar_downloads (webinar_id, client_id, agency_id);
create index webinar_files_webinar_client_agency_idx on webinar_files (webinar_id, client_id, agency_id);
create index webinar_live_presence_webinar_client_agency_idx on webinar_live_presence (webinar_id, client_id, agency_id);
create index webinar_user_sessions_webinar_client_agency_idx on webinar_user_sessions (webinar_id, client_id, agency_id);

-- The other keys: campaign links, campaigns and notes of a client's webinar, a quiz's attempts,
-- a registration's campaign link, a webinar's client.
create index campaign_link_meta_target_webinar_client_idx on campaign_link_meta (target_webinar_id, client_id);
create index email_campaigns_client_agency_idx on email_campaigns (client_id, agency_id);
create index email_campaigns_target_webinar_client_idx on email_campaigns (target_webinar_id, client_id);
create index notes_webinar_client_idx on notes (webinar_id, client_id);
create index quiz_attempts_webinar_quiz_idx on quiz_attempts (webinar_id, quiz_id);
create index registrations_campaign_link_webinar_idx on registrations (campaign_link_id, webinar_id);
create index webinars_client_agency_idx on webinars (client_id, agency_id);
