//! The C ABI of Armature. Empty until the C ABI issue: see `../shared/DESIGN.md`, "C ABI rules".
