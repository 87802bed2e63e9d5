-- forms, quizzes, surveys and giveaways. Their definitions are shown to everyone in the
-- webinar; what a viewer submits is theirs alone (and their tenant's admins'). A submission is
-- written once and never rewritten by its author (no UPDATE or DELETE for participants: a quiz
-- attempt's score is not the viewer's to set). No job reads any of these.

call app.reset_security('forms');
grant select, insert, update, delete on forms to eventflow_app;
create policy "participants read their webinar's forms" on forms
    for select to eventflow_app using (webinar_id = app.participant_webinar_id());
create policy "admins manage their tenant's forms" on forms
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());

call app.reset_security('form_submissions');
grant select, insert on form_submissions to eventflow_app;
create policy "participants read their own form submissions" on form_submissions
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id() and user_id = app.participant_id());
create policy "participants submit forms as themselves" on form_submissions
    for insert to eventflow_app
    with check (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
                and app.participant_webinar_open(webinar_id));
create policy "admins read their tenant's form submissions" on form_submissions
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());

call app.reset_security('form_answers');
grant select, insert on form_answers to eventflow_app;
create policy "participants read their own form answers" on form_answers
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id() and user_id = app.participant_id());
create policy "participants answer forms as themselves" on form_answers
    for insert to eventflow_app
    with check (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
                and app.participant_webinar_open(webinar_id));
create policy "admins read their tenant's form answers" on form_answers
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());


call app.reset_security('quizzes');
grant select, insert, update, delete on quizzes to eventflow_app;
create policy "participants read their webinar's quizzes" on quizzes
    for select to eventflow_app using (webinar_id = app.participant_webinar_id());
create policy "admins manage their tenant's quizzes" on quizzes
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());

call app.reset_security('quiz_attempts');
grant select, insert on quiz_attempts to eventflow_app;
create policy "participants read their own quiz attempts" on quiz_attempts
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id() and user_id = app.participant_id());
create policy "participants start quiz attempts as themselves" on quiz_attempts
    for insert to eventflow_app
    with check (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
                and app.participant_webinar_open(webinar_id));
create policy "admins read their tenant's quiz attempts" on quiz_attempts
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());

call app.reset_security('quiz_responses');
grant select, insert on quiz_responses to eventflow_app;
create policy "participants read their own quiz responses" on quiz_responses
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id() and user_id = app.participant_id());
create policy "participants give quiz responses as themselves" on quiz_responses
    for insert to eventflow_app
    with check (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
                and app.participant_webinar_open(webinar_id));
create policy "admins read their tenant's quiz responses" on quiz_responses
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());


call app.reset_security('event_survey_campaigns');
grant select, insert, update, delete on event_survey_campaigns to eventflow_app;
create policy "participants read their webinar's surveys" on event_survey_campaigns
    for select to eventflow_app using (webinar_id = app.participant_webinar_id());
create policy "admins manage their tenant's surveys" on event_survey_campaigns
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());

call app.reset_security('event_survey_entries');
grant select, insert on event_survey_entries to eventflow_app;
create policy "participants read their own survey entries" on event_survey_entries
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id() and user_id = app.participant_id());
create policy "participants answer surveys as themselves" on event_survey_entries
    for insert to eventflow_app
    with check (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
                and app.participant_webinar_open(webinar_id));
create policy "admins read their tenant's survey entries" on event_survey_entries
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());


call app.reset_security('draws');
grant select, insert, update, delete on draws to eventflow_app;
create policy "participants read their webinar's draws" on draws
    for select to eventflow_app using (webinar_id = app.participant_webinar_id());
create policy "admins manage their tenant's draws" on draws
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());

-- Winners are announced in the room, so every viewer of the webinar may see them.
call app.reset_security('draw_winners');
grant select, insert, delete on draw_winners to eventflow_app;
create policy "participants read their webinar's winners" on draw_winners
    for select to eventflow_app using (webinar_id = app.participant_webinar_id());
create policy "admins manage their tenant's winners" on draw_winners
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());
