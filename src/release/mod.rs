//! Releases: versions and GTO tags, the tag's record, the registry read from git, the model
//! card and the release bundle that `mlgate promote` publishes.
//!
//! Depends on the core stages' files (manifest, evaluation), never the other way round.

pub mod bundle;
pub mod card;
pub mod forge;
pub mod inputs;
pub mod local;
pub mod promotion;
pub mod publish;
pub mod record;
pub mod registry;
pub mod version;
