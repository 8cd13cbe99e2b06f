"""The Jinja templates of the report (one source for HTML and PDF), installed as ``auditkit.templates``."""
