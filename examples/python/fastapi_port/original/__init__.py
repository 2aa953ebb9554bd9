"""The FastAPI original of the users-and-items application (see app.py)."""
