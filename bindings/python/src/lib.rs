//! Python binding of Armature. Empty until the Python binding issue.
