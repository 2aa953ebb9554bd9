"""The Armature port of the users-and-items application (see app.py)."""
