"""Demo mode's own data: the demo tenants and logins, and the origin of its embed host page."""
