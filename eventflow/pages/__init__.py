"""The browser side: pages and their static files (the reference client, page scripts, vendored
libraries)."""
