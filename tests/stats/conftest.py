"""The dashboard's fixtures (a webinar with a little of everything, rolled up) for these tests too."""

from tests.test_stats import busy_webinar, rolled_up  # noqa: F401 - fixtures, found by name
