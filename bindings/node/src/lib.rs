//! Node binding of Armature. Empty until the Node binding issue.
