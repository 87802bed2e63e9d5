"""`eventflow db check` (eventflow/dbcheck.py): passes on the migrated schema, and names each way
row-level security can be bypassed. Each failing case creates its problem as the owner, asserts
exit code 1 and the message, cleans up, and checks that the database is sound again."""

import pytest

from eventflow.migrations import has_citus


def _check(app):
    return app.test_cli_runner().invoke(args=["db", "check"])


def _assert_reported(app, *problems):
    result = _check(app)
    assert result.exit_code == 1, result.output
    for problem in problems:
        assert problem in result.output


def _assert_sound_again(app):
    result = _check(app)
    assert result.exit_code == 0, result.output


def test_db_check_passes_on_the_migrated_schema(app):
    result = _check(app)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok:")


@pytest.mark.parametrize("table", ["public.sneaky_export", "reporting.sneaky_export"])
def test_db_check_fails_on_a_table_without_rls(app, owner, table):
    schema = table.split(".")[0]
    owner.execute(f"create schema if not exists {schema}")
    owner.execute(f"create table {table} (id int, client_id uuid)")
    try:
        _assert_reported(app, f"table {table}: RLS not enabled, RLS not forced, no policy")
    finally:
        owner.execute(f"drop table {table}")
        if schema != "public":
            owner.execute(f"drop schema {schema}")
    _assert_sound_again(app)


def test_db_check_fails_on_a_privileged_role_and_an_unpinned_definer(app, owner):
    owner.execute("alter role eventflow_worker bypassrls")
    owner.execute("create function public.leaky() returns int language sql security definer as 'select 1'")
    try:
        _assert_reported(
            app,
            "role eventflow_worker can bypass row-level security",
            "SECURITY DEFINER function public.leaky has no fixed search_path",
        )
    finally:
        owner.execute("alter role eventflow_worker nobypassrls")
        owner.execute("drop function public.leaky()")


# A role the app or worker can SET ROLE to lends them its powers. The bypassing role is reached
# through an innocent middle role, as a grant chain would hide it.
@pytest.mark.parametrize(
    ("member", "power", "create", "expected"),
    [
        ("eventflow_app", "super", "create role sneaky_super superuser nologin", "which is a superuser"),
        (
            "eventflow_worker",
            "bypass",
            "create role sneaky_bypass bypassrls nologin",
            "which can bypass row-level security",
        ),
        (
            "eventflow_app",
            "owner",
            "create role sneaky_owner nologin; create schema sneaky_owned authorization sneaky_owner",
            "which owns 1 objects",
        ),
    ],
)
def test_db_check_fails_on_membership_in_a_privileged_role(app, owner, member, power, create, expected):
    role = f"sneaky_{power}"
    owner.execute(create)
    owner.execute("create role sneaky_middle nologin")
    owner.execute(f"grant {role} to sneaky_middle")
    owner.execute(f"grant sneaky_middle to {member}")
    try:
        _assert_reported(app, f"role {member} is a member of role {role}, {expected}")
        assert "role sneaky_middle," not in _check(app).output  # powerless itself
    finally:
        owner.execute(f"revoke sneaky_middle from {member}")
        owner.execute("drop role sneaky_middle")
        owner.execute("drop schema if exists sneaky_owned")
        owner.execute(f"drop role {role}")
    _assert_sound_again(app)


@pytest.mark.parametrize(
    ("create", "expected"),
    [
        (
            "create view public.sneaky_view as select id, client_id from webinars",
            "view public.sneaky_view runs as its owner, bypassing row-level security",
        ),
        (
            "create view public.sneaky_view with (security_invoker = off) as select id from webinars",
            "view public.sneaky_view runs as its owner, bypassing row-level security",
        ),
        (
            "create materialized view public.sneaky_view as select id, client_id from webinars",
            "materialized view public.sneaky_view holds rows outside row-level security",
        ),
    ],
)
def test_db_check_fails_on_a_view_that_runs_as_its_owner(app, owner, create, expected):
    owner.execute(create)
    try:
        _assert_reported(app, expected)
    finally:
        kind = "materialized view" if "materialized" in create else "view"
        owner.execute(f"drop {kind} public.sneaky_view")
    _assert_sound_again(app)


def test_db_check_accepts_a_security_invoker_view(app, owner):
    owner.execute("create view public.honest_view with (security_invoker = true) as select id from webinars")
    try:
        _assert_sound_again(app)
    finally:
        owner.execute("drop view public.honest_view")


def test_db_check_fails_on_a_schema_owned_by_an_app_role(app, owner):
    owner.execute("create schema sneaky_scratch authorization eventflow_worker")
    try:
        _assert_reported(app, "role eventflow_worker owns schema sneaky_scratch")
    finally:
        owner.execute("drop schema sneaky_scratch")
    _assert_sound_again(app)


# Issue 11, row 10: Supabase's splinter lints, adapted. The linter found 27 foreign keys without a
# covering index (a problem now) and 24 cases of several permissive policies for one role and
# command (a warning now).
def test_every_foreign_key_of_the_migrated_schema_is_indexed(app):
    result = _check(app)
    assert result.exit_code == 0, result.output
    assert "has no index that covers it" not in result.output
    assert "every foreign key indexed" in result.output


def _with_a_child_table(owner, index=None):
    """A table whose foreign key to webinars is (webinar_id, client_id, agency_id), with
    row-level security in order, so that the key is its only possible problem. On Citus it is
    distributed with webinars first, as a webinar table must be to hold that key."""
    owner.execute("create table public.sneaky_child (id int, webinar_id uuid, client_id uuid, agency_id uuid)")
    if has_citus(owner):
        owner.execute(
            "select create_distributed_table('public.sneaky_child', 'webinar_id', colocate_with => 'webinars')"
        )
    owner.execute(
        """alter table public.sneaky_child add constraint sneaky_child_webinar_fkey
               foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)"""
    )
    owner.execute("alter table public.sneaky_child enable row level security, force row level security")
    owner.execute("create policy nobody on public.sneaky_child using (false)")
    if index:
        owner.execute(f"create index sneaky_child_idx on public.sneaky_child {index}")


@pytest.mark.parametrize(
    "index",
    [
        None,
        "(webinar_id, client_id)",  # a prefix of the key only
        "(webinar_id, id, client_id, agency_id)",  # the key's columns, but not leading
        "(webinar_id, client_id, agency_id) where id > 0",  # partial: not every row
    ],
)
def test_db_check_fails_on_a_foreign_key_without_a_covering_index(app, owner, index):
    _with_a_child_table(owner, index)
    try:
        _assert_reported(
            app,
            "foreign key sneaky_child_webinar_fkey of public.sneaky_child (webinar_id, client_id, agency_id) "
            "has no index that covers it",
        )
    finally:
        owner.execute("drop table public.sneaky_child")
    _assert_sound_again(app)


@pytest.mark.parametrize("index", ["(webinar_id, client_id, agency_id)", "(agency_id, webinar_id, client_id, id)"])
def test_db_check_accepts_an_index_whose_leading_columns_are_the_key_in_any_order(app, owner, index):
    _with_a_child_table(owner, index)
    try:
        _assert_sound_again(app)
    finally:
        owner.execute("drop table public.sneaky_child")


def test_db_check_warns_of_several_permissive_policies_for_one_role_and_command(app, owner):
    before = _check(app)
    assert before.exit_code == 0
    # Consolidated: the admins' reads of agencies and clients are one policy each.
    assert "table public.agencies:" not in before.output and "table public.clients:" not in before.output
    # Kept apart on purpose: one policy per kind of caller (participants, admins) reads best.
    assert (
        "warning: table public.registrations: 2 permissive policies for eventflow_app SELECT: "
        "admins read their tenant's registrations, participants read their own registration"
    ) in before.output
    owner.execute("create policy sneaky_extra on clients for all to eventflow_app using (true)")
    try:
        result = _check(app)
        assert result.exit_code == 0, "a warning, not a failure"
        assert (
            "warning: table public.clients: 2 permissive policies for eventflow_app SELECT: "
            "admins read their client, or their agency's clients, sneaky_extra"
        ) in result.output
        assert "table public.clients: 2 permissive policies for eventflow_app INSERT" not in result.output
    finally:
        owner.execute("drop policy sneaky_extra on clients")
    assert "table public.clients:" not in _check(app).output
