"""SQL of the webinars area. Row-level security scopes every statement to the caller's tenant."""

LIST_WEBINARS = """
select id, slug, client_id, agency_id, title, status, starts_at, ends_at
from webinars
where (%(status)s::text is null or status = %(status)s)
order by starts_at desc, id
limit %(limit)s offset %(offset)s
"""

GET_WEBINAR = """
select id, slug, client_id, agency_id, title, description, status, starts_at, ends_at
from webinars
where id = %(webinar_id)s
"""
