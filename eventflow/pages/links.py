"""Ready links to the pages, with the token in the fragment (never sent to a server), for what
`seed demo` made."""

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def watch_url(base_url, webinar_id, token):
    return f"{base_url}/watch/{webinar_id}#token={token}"


def console_url(base_url, webinar_id, token):
    return f"{base_url}/admin/webinars/{webinar_id}#token={token}"


def demo_links(made, base_url):
    """Add `watch_url` to each webinar's participant and `console_url` to each admin (their
    first live webinar); return (who, url) pairs to print, the docs first."""
    links = [("API documentation", f"{base_url}/api/docs")]
    for agency in made["agencies"]:
        agency_live = None
        for client in agency["clients"]:
            live = next(w for w in client["webinars"] if w["status"] == "live")
            agency_live = agency_live or live
            client["console_url"] = console_url(base_url, live["id"], client["admin_token"])
            links.append((f"console, client admin of {client['name']}", client["console_url"]))
            for webinar in client["webinars"]:
                viewer = webinar["participant"]
                viewer["watch_url"] = watch_url(base_url, webinar["id"], viewer["token"])
                if webinar is live:
                    links.append((f"watch page, {viewer['name']} in {webinar['title']}", viewer["watch_url"]))
        agency["console_url"] = console_url(base_url, agency_live["id"], agency["admin_token"])
        links.append((f"console, agency admin of {agency['name']}", agency["console_url"]))
    return links
