-- What happens inside a webinar: chat, Q&A, reactions, files, forms, quizzes, surveys, giveaways.
-- Every table is keyed by webinar_id first and proves its org fields against webinars by foreign key.

create table messages (
    webinar_id    uuid not null,
    id            bigint generated always as identity,
    client_id     uuid not null,
    agency_id     uuid not null,
    user_id       uuid not null,
    author_role   text not null check (author_role in ('participant', 'client_admin', 'agency_admin')),
    display_name  text not null default '' check (length(display_name) <= 100),
    body          text not null check (length(body) between 1 and 2000),
    hidden        boolean not null default false,
    created_at    timestamptz not null default now(),
    primary key (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index messages_client_id_idx on messages (client_id);
create index messages_agency_id_idx on messages (agency_id);

create table questions (
    webinar_id    uuid not null,
    id            bigint generated always as identity,
    client_id     uuid not null,
    agency_id     uuid not null,
    user_id       uuid not null,
    display_name  text not null default '' check (length(display_name) <= 100),
    body          text not null check (length(body) between 1 and 1000),
    status        text not null default 'pending' check (status in ('pending', 'answered', 'hidden')),
    is_public     boolean not null default true,
    pinned        boolean not null default false,
    answer        text check (length(answer) <= 4000),
    answered_by   uuid,
    answered_at   timestamptz,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    primary key (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index questions_user_idx on questions (webinar_id, user_id);
create index questions_client_id_idx on questions (client_id);
create index questions_agency_id_idx on questions (agency_id);

create table reactions (
    webinar_id   uuid not null,
    id           uuid not null default gen_random_uuid(),
    client_id    uuid not null,
    agency_id    uuid not null,
    user_id      uuid not null,
    target_type  text not null check (target_type in ('question', 'message', 'webinar')),
    target_id    bigint,
    kind         text not null check (kind in ('upvote', 'like', 'clap', 'heart')),
    created_at   timestamptz not null default now(),
    primary key (webinar_id, id),
    unique nulls not distinct (webinar_id, target_type, target_id, user_id, kind),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index reactions_client_id_idx on reactions (client_id);
create index reactions_agency_id_idx on reactions (agency_id);

create table webinar_files (
    webinar_id  uuid not null,
    id          uuid not null default gen_random_uuid(),
    client_id   uuid not null,
    agency_id   uuid not null,
    file_name   text not null check (length(file_name) between 1 and 255),
    url         text not null check (length(url) between 1 and 2000),
    size_bytes  bigint not null default 0 check (size_bytes >= 0),
    created_at  timestamptz not null default now(),
    primary key (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index webinar_files_client_id_idx on webinar_files (client_id);
create index webinar_files_agency_id_idx on webinar_files (agency_id);

create table webinar_downloads (
    webinar_id     uuid not null,
    id             uuid not null default gen_random_uuid(),
    file_id        uuid not null,
    user_id        uuid not null,
    client_id      uuid not null,
    agency_id      uuid not null,
    downloaded_at  timestamptz not null default now(),
    primary key (webinar_id, id),
    foreign key (webinar_id, file_id) references webinar_files (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index webinar_downloads_file_idx on webinar_downloads (webinar_id, file_id);
create index webinar_downloads_client_id_idx on webinar_downloads (client_id);
create index webinar_downloads_agency_id_idx on webinar_downloads (agency_id);

create table forms (
    webinar_id  uuid not null,
    id          uuid not null default gen_random_uuid(),
    client_id   uuid not null,
    agency_id   uuid not null,
    title       text not null check (length(title) between 1 and 300),
    fields      jsonb not null default '[]' check (jsonb_typeof(fields) = 'array'),
    created_at  timestamptz not null default now(),
    primary key (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index forms_client_id_idx on forms (client_id);
create index forms_agency_id_idx on forms (agency_id);

create table form_submissions (
    webinar_id    uuid not null,
    id            uuid not null default gen_random_uuid(),
    form_id       uuid not null,
    user_id       uuid not null,
    client_id     uuid not null,
    agency_id     uuid not null,
    submitted_at  timestamptz not null default now(),
    primary key (webinar_id, id),
    unique (webinar_id, form_id, user_id),
    foreign key (webinar_id, form_id) references forms (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index form_submissions_user_idx on form_submissions (webinar_id, user_id);
create index form_submissions_client_id_idx on form_submissions (client_id);
create index form_submissions_agency_id_idx on form_submissions (agency_id);

create table form_answers (
    webinar_id     uuid not null,
    submission_id  uuid not null,
    field_key      text not null check (length(field_key) between 1 and 100),
    user_id        uuid not null,
    client_id      uuid not null,
    agency_id      uuid not null,
    answer         text not null check (length(answer) <= 4000),
    primary key (webinar_id, submission_id, field_key),
    foreign key (webinar_id, submission_id) references form_submissions (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index form_answers_client_id_idx on form_answers (client_id);
create index form_answers_agency_id_idx on form_answers (agency_id);

create table quizzes (
    webinar_id  uuid not null,
    id          uuid not null default gen_random_uuid(),
    client_id   uuid not null,
    agency_id   uuid not null,
    title       text not null check (length(title) between 1 and 300),
    questions   jsonb not null default '[]' check (jsonb_typeof(questions) = 'array'),
    created_at  timestamptz not null default now(),
    primary key (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index quizzes_client_id_idx on quizzes (client_id);
create index quizzes_agency_id_idx on quizzes (agency_id);

create table quiz_attempts (
    webinar_id   uuid not null,
    id           uuid not null default gen_random_uuid(),
    quiz_id      uuid not null,
    user_id      uuid not null,
    client_id    uuid not null,
    agency_id    uuid not null,
    score        integer not null default 0 check (score >= 0),
    started_at   timestamptz not null default now(),
    finished_at  timestamptz,
    primary key (webinar_id, id),
    foreign key (webinar_id, quiz_id) references quizzes (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index quiz_attempts_user_idx on quiz_attempts (webinar_id, user_id);
create index quiz_attempts_client_id_idx on quiz_attempts (client_id);
create index quiz_attempts_agency_id_idx on quiz_attempts (agency_id);

create table quiz_responses (
    webinar_id     uuid not null,
    attempt_id     uuid not null,
    question_no    integer not null check (question_no >= 0),
    user_id        uuid not null,
    client_id      uuid not null,
    agency_id      uuid not null,
    answer         text not null check (length(answer) <= 1000),
    is_correct     boolean not null,
    answered_at    timestamptz not null default now(),
    primary key (webinar_id, attempt_id, question_no),
    foreign key (webinar_id, attempt_id) references quiz_attempts (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index quiz_responses_client_id_idx on quiz_responses (client_id);
create index quiz_responses_agency_id_idx on quiz_responses (agency_id);

create table event_survey_campaigns (
    webinar_id  uuid not null,
    id          uuid not null default gen_random_uuid(),
    client_id   uuid not null,
    agency_id   uuid not null,
    title       text not null check (length(title) between 1 and 300),
    opens_at    timestamptz,
    closes_at   timestamptz,
    created_at  timestamptz not null default now(),
    primary key (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index event_survey_campaigns_client_id_idx on event_survey_campaigns (client_id);
create index event_survey_campaigns_agency_id_idx on event_survey_campaigns (agency_id);

create table event_survey_entries (
    webinar_id   uuid not null,
    id           uuid not null default gen_random_uuid(),
    campaign_id  uuid not null,
    user_id      uuid not null,
    client_id    uuid not null,
    agency_id    uuid not null,
    answers      jsonb not null default '{}' check (jsonb_typeof(answers) = 'object'),
    created_at   timestamptz not null default now(),
    primary key (webinar_id, id),
    unique (webinar_id, campaign_id, user_id),
    foreign key (webinar_id, campaign_id) references event_survey_campaigns (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index event_survey_entries_client_id_idx on event_survey_entries (client_id);
create index event_survey_entries_agency_id_idx on event_survey_entries (agency_id);

create table draws (
    webinar_id    uuid not null,
    id            uuid not null default gen_random_uuid(),
    client_id     uuid not null,
    agency_id     uuid not null,
    title         text not null check (length(title) between 1 and 300),
    prize         text not null default '',
    winner_count  integer not null default 1 check (winner_count between 1 and 1000),
    drawn_at      timestamptz,
    created_at    timestamptz not null default now(),
    primary key (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index draws_client_id_idx on draws (client_id);
create index draws_agency_id_idx on draws (agency_id);

create table draw_winners (
    webinar_id    uuid not null,
    draw_id       uuid not null,
    user_id       uuid not null,
    client_id     uuid not null,
    agency_id     uuid not null,
    display_name  text not null default '',
    won_at        timestamptz not null default now(),
    primary key (webinar_id, draw_id, user_id),
    foreign key (webinar_id, draw_id) references draws (webinar_id, id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index draw_winners_client_id_idx on draw_winners (client_id);
create index draw_winners_agency_id_idx on draw_winners (agency_id);
