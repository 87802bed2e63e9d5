"""`eventflow db check` (eventflow/dbcheck.py): passes on the migrated schema, and names each way
row-level security can be bypassed. Each failing case creates its problem as the owner, asserts
exit code 1 and the message, cleans up, and checks that the database is sound again."""

import pytest


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
    assert result.output.startswith("ok:")


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
