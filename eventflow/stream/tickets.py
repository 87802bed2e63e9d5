"""Stream tickets: how a browser's EventSource, which cannot send an Authorization header,
authenticates without its bearer token ever appearing in a URL (and so in any access log).

The page asks for a ticket with its bearer token (POST .../events/tickets) and opens the stream
with `?ticket=`. A ticket is a random string naming that token and that webinar, kept in Redis
for TICKET_SECONDS and deleted when the stream redeems it: the ticket a log line may show has
already been spent. What the stream then knows of the caller is what the token says, its expiry
included.
"""

import secrets

from eventflow.redis_client import get_redis

TICKET_SECONDS = 30
KEY_PREFIX = "ef:stream-ticket"


def issue(token, webinar_id):
    ticket = secrets.token_urlsafe(24)
    get_redis().set(f"{KEY_PREFIX}:{ticket}", f"{webinar_id} {token}", ex=TICKET_SECONDS)
    return ticket


def redeem(ticket, webinar_id):
    """The token a ticket for this webinar names, once; None if it is unknown, spent, expired or
    for another webinar."""
    value = get_redis().getdel(f"{KEY_PREFIX}:{ticket}")
    if value is None:
        return None
    ticket_webinar, _, token = value.decode().partition(" ")
    return token if ticket_webinar == str(webinar_id) else None
