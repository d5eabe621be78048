"""The HTTP API (FastAPI): applicants, officers, supervisors and admins over bearer tokens."""
