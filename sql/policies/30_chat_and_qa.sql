-- messages, questions, reactions: what viewers say during a webinar.

call app.reset_security('messages');
grant select, insert, update on messages to eventflow_app;
grant select on messages to eventflow_worker;

create policy "participants read visible messages of their webinar" on messages
    for select to eventflow_app
    using (webinar_id = (select app.participant_webinar_id())
           and (not hidden or user_id = (select app.participant_id())));
create policy "participants post messages as themselves" on messages
    for insert to eventflow_app
    with check (webinar_id = (select app.participant_webinar_id())
                and user_id = (select app.participant_id())
                and author_role = 'participant' and not hidden);
create policy "admins manage their tenant's messages" on messages
    for all to eventflow_app
    using (client_id = (select app.admin_client_id()) or agency_id = (select app.admin_agency_id()));
create policy "worker reads messages" on messages
    for select to eventflow_worker using (true);


call app.reset_security('questions');
grant select, insert, update on questions to eventflow_app;
grant select on questions to eventflow_worker;

-- What a webinar's Q&A shows a viewer: their own questions and the answered public ones.
create policy "participants read their own and answered public questions" on questions
    for select to eventflow_app
    using (webinar_id = (select app.participant_webinar_id())
           and (user_id = (select app.participant_id()) or (status = 'answered' and is_public)));
create policy "participants ask questions as themselves" on questions
    for insert to eventflow_app
    with check (webinar_id = (select app.participant_webinar_id())
                and user_id = (select app.participant_id())
                and status = 'pending' and not pinned and answer is null);
create policy "admins manage their tenant's questions" on questions
    for all to eventflow_app
    using (client_id = (select app.admin_client_id()) or agency_id = (select app.admin_agency_id()));
create policy "worker reads questions" on questions
    for select to eventflow_worker using (true);


call app.reset_security('reactions');
grant select, insert, delete on reactions to eventflow_app;
grant select on reactions to eventflow_worker;

create policy "participants read reactions in their webinar" on reactions
    for select to eventflow_app
    using (webinar_id = (select app.participant_webinar_id()));
create policy "participants react as themselves" on reactions
    for insert to eventflow_app
    with check (webinar_id = (select app.participant_webinar_id()) and user_id = (select app.participant_id()));
create policy "participants withdraw their own reactions" on reactions
    for delete to eventflow_app
    using (webinar_id = (select app.participant_webinar_id()) and user_id = (select app.participant_id()));
create policy "admins manage their tenant's reactions" on reactions
    for all to eventflow_app
    using (client_id = (select app.admin_client_id()) or agency_id = (select app.admin_agency_id()));
create policy "worker reads reactions" on reactions
    for select to eventflow_worker using (true);
