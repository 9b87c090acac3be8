//! Versions and tags in GTO's format: `NAME@vX.Y.Z` for versions, `NAME#STAGE#N` for stages.
//!
//! iterative/gto reads a git repository's tags as a model registry; writing the same format
//! lets GTO and DVC users read what mlgate promotes without any change. Only plain
//! `X.Y.Z` versions are promoted versions: a tag with a pre-release or build suffix, or any
//! other text after `NAME@`, is not one and is skipped (with a note) rather than guessed at.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A released version, ordered by semver precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Incompatible change: the model's inputs changed.
    pub major: u64,
    /// A significant improvement.
    pub minor: u64,
    /// Anything else.
    pub patch: u64,
}

impl Version {
    /// Builds a version.
    pub const fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// The version after this one for a bump.
    pub fn bumped(self, bump: Bump) -> Version {
        match bump {
            Bump::Major => Version::new(self.major.saturating_add(1), 0, 0),
            Bump::Minor => Version::new(self.major, self.minor.saturating_add(1), 0),
            Bump::Patch => Version::new(self.major, self.minor, self.patch.saturating_add(1)),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why text is not a name, version or tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// The registry name breaks GTO's rules.
    #[error("`{0}` is not a valid model name (lowercase letters, digits and dashes, `/` between namespaces, no leading or trailing dash)")]
    Name(String),
    /// The stage breaks GTO's rules.
    #[error("`{0}` is not a valid stage (lowercase letters, digits and dashes, no leading or trailing dash)")]
    Stage(String),
    /// Not `X.Y.Z` with plain non-negative integers.
    #[error("`{0}` is not a version `X.Y.Z` (no leading zeros, no pre-release or build suffix)")]
    Version(String),
    /// Not `NAME@vX.Y.Z`.
    #[error("`{0}` is not a version tag `NAME@vX.Y.Z`")]
    VersionTag(String),
    /// Not `NAME#STAGE#N`.
    #[error("`{0}` is not a stage tag `NAME#STAGE#N`")]
    StageTag(String),
}

impl FromStr for Version {
    type Err = TagError;

    fn from_str(text: &str) -> Result<Version, TagError> {
        let bad = || TagError::Version(text.to_string());
        let parts: Vec<&str> = text.split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            return Err(bad());
        };
        let number = |part: &str| -> Result<u64, TagError> {
            let plain = !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'));
            if !plain {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        Ok(Version::new(number(major)?, number(minor)?, number(patch)?))
    }
}

/// Which part of the version a promotion bumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    /// `X+1.0.0`.
    Major,
    /// `X.Y+1.0`.
    Minor,
    /// `X.Y.Z+1`.
    Patch,
}

impl Bump {
    /// The name used in flags, config and messages.
    pub fn name(self) -> &'static str {
        match self {
            Bump::Major => "major",
            Bump::Minor => "minor",
            Bump::Patch => "patch",
        }
    }
}

/// Checks a registry name: `/`-separated segments of lowercase letters, digits and dashes, each
/// starting and ending with a letter or digit (GTO's artifact names).
pub fn check_name(name: &str) -> Result<(), TagError> {
    if name.split('/').all(is_segment) {
        Ok(())
    } else {
        Err(TagError::Name(name.to_string()))
    }
}

/// Checks a stage name: one segment, as in a registry name.
pub fn check_stage(stage: &str) -> Result<(), TagError> {
    if is_segment(stage) {
        Ok(())
    } else {
        Err(TagError::Stage(stage.to_string()))
    }
}

/// One name segment: `[a-z0-9]([a-z0-9-]*[a-z0-9])?`.
fn is_segment(segment: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = segment.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            allowed(first) && allowed(last) && bytes.iter().all(|&b| allowed(b) || b == b'-')
        }
        _ => false,
    }
}

/// A version tag `NAME@vX.Y.Z`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionTag {
    /// The registry name.
    pub name: String,
    /// The version.
    pub version: Version,
}

impl VersionTag {
    /// The tag for `name` at `version`; `name` must already be valid.
    pub fn new(name: &str, version: Version) -> VersionTag {
        VersionTag {
            name: name.to_string(),
            version,
        }
    }

    /// The prefix every version tag of `name` starts with.
    pub fn prefix(name: &str) -> String {
        format!("{name}@v")
    }
}

impl fmt::Display for VersionTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@v{}", self.name, self.version)
    }
}

impl FromStr for VersionTag {
    type Err = TagError;

    fn from_str(text: &str) -> Result<VersionTag, TagError> {
        let bad = || TagError::VersionTag(text.to_string());
        let (name, version) = text.rsplit_once("@v").ok_or_else(bad)?;
        check_name(name).map_err(|_| bad())?;
        let version = version.parse().map_err(|_| bad())?;
        Ok(VersionTag::new(name, version))
    }
}

/// A stage tag `NAME#STAGE#N`: the N-th assignment of `STAGE` to a version of `NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StageTag {
    /// The registry name.
    pub name: String,
    /// The stage.
    pub stage: String,
    /// The assignment's number, from 1.
    pub number: u64,
}

impl fmt::Display for StageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}#{}", self.name, self.stage, self.number)
    }
}

impl StageTag {
    /// The prefix every assignment of `stage` to `name` starts with.
    pub fn prefix(name: &str, stage: &str) -> String {
        format!("{name}#{stage}#")
    }
}

impl FromStr for StageTag {
    type Err = TagError;

    fn from_str(text: &str) -> Result<StageTag, TagError> {
        let bad = || TagError::StageTag(text.to_string());
        let parts: Vec<&str> = text.split('#').collect();
        let [name, stage, number] = parts.as_slice() else {
            return Err(bad());
        };
        check_name(name).map_err(|_| bad())?;
        check_stage(stage).map_err(|_| bad())?;
        let plain = !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
            && !number.starts_with('0');
        let number: u64 = if plain {
            number.parse().map_err(|_| bad())?
        } else {
            return Err(bad());
        };
        Ok(StageTag {
            name: name.to_string(),
            stage: stage.to_string(),
            number,
        })
    }
}

/// What the versioning rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BumpFacts {
    /// The candidate's feature-schema hash differs from the champion's.
    pub schema_changed: bool,
    /// The primary metric's paired interval shows a significant improvement.
    pub significant_improvement: bool,
}

/// The automatic rule: major if the model's inputs changed, minor if the primary metric
/// improved significantly, patch otherwise; with the reason, for the log and the tag.
pub fn auto_bump(facts: BumpFacts) -> (Bump, &'static str) {
    if facts.schema_changed {
        (Bump::Major, "the feature schema changed")
    } else if facts.significant_improvement {
        (Bump::Minor, "the primary metric improved significantly")
    } else {
        (
            Bump::Patch,
            "no schema change and no significant improvement",
        )
    }
}

/// Why no version can be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChooseError {
    /// `--version` names one that exists.
    #[error("version {0} already exists; versions are never reused")]
    Exists(Version),
    /// `--version` is not above the newest one, so it would never become the champion.
    #[error("version {requested} is not above the newest existing version {newest}; the champion is always the highest version")]
    NotNewest {
        /// The requested version.
        requested: Version,
        /// The newest existing one.
        newest: Version,
    },
}

/// The next version: `explicit` if given (new and above every existing one), else `bump`
/// applied to the newest existing version (or to 0.0.0 for the first model, as GTO starts at
/// v0.0.1).
pub fn choose(
    existing: &[Version],
    bump: Bump,
    explicit: Option<Version>,
) -> Result<Version, ChooseError> {
    let newest = existing.iter().max().copied();
    match (explicit, newest) {
        (Some(v), _) if existing.contains(&v) => Err(ChooseError::Exists(v)),
        (Some(v), Some(newest)) if v < newest => Err(ChooseError::NotNewest {
            requested: v,
            newest,
        }),
        (Some(v), _) => Ok(v),
        (None, newest) => Ok(newest.unwrap_or(Version::new(0, 0, 0)).bumped(bump)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_gto_rules() {
        for good in ["churn", "team/churn-v2", "a", "0x", "a/b/c"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Churn",
            "churn_model",
            "-churn",
            "churn-",
            "a//b",
            "/a",
            "a/",
            "a@b",
            "a#b",
            "a b",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_stage("prod").is_ok());
        assert!(check_stage("team/prod").is_err());
    }

    #[test]
    fn version_tags_parse_and_format() {
        let tag: VersionTag = "team/churn@v1.12.0".parse().unwrap();
        assert_eq!(tag.name, "team/churn");
        assert_eq!(tag.version, Version::new(1, 12, 0));
        assert_eq!(tag.to_string(), "team/churn@v1.12.0");
        for bad in [
            "churn@1.2.0",
            "churn@v1.2",
            "churn@v1.2.0-rc.1",
            "churn@v1.2.0+build",
            "churn@v01.2.0",
            "Churn@v1.2.0",
            "@v1.2.0",
            "churn@v1.2.x",
            "churn@v99999999999999999999.0.0",
        ] {
            assert!(bad.parse::<VersionTag>().is_err(), "{bad}");
        }
    }

    #[test]
    fn stage_tags_parse_and_format() {
        let tag: StageTag = "churn#prod#3".parse().unwrap();
        assert_eq!(
            (tag.name.as_str(), tag.stage.as_str(), tag.number),
            ("churn", "prod", 3)
        );
        assert_eq!(tag.to_string(), "churn#prod#3");
        for bad in [
            "churn#prod",
            "churn#prod#0",
            "churn#prod#01",
            "churn#Prod#1",
            "churn#prod#1#2",
            "churn@v1.0.0",
        ] {
            assert!(bad.parse::<StageTag>().is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_order_by_precedence_not_text() {
        let mut versions: Vec<Version> = ["1.10.0", "1.9.3", "2.0.0", "1.9.10"]
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        versions.sort();
        let text: Vec<String> = versions.iter().map(Version::to_string).collect();
        assert_eq!(text, ["1.9.3", "1.9.10", "1.10.0", "2.0.0"]);
    }

    #[test]
    fn auto_bump_rules() {
        let facts = |schema_changed, significant_improvement| BumpFacts {
            schema_changed,
            significant_improvement,
        };
        assert_eq!(auto_bump(facts(true, true)).0, Bump::Major);
        assert_eq!(auto_bump(facts(false, true)).0, Bump::Minor);
        assert_eq!(auto_bump(facts(false, false)).0, Bump::Patch);
    }

    #[test]
    fn choose_never_reuses_a_version() {
        let existing = [
            Version::new(1, 2, 0),
            Version::new(1, 10, 3),
            Version::new(0, 9, 0),
        ];
        assert_eq!(
            choose(&existing, Bump::Minor, None),
            Ok(Version::new(1, 11, 0))
        );
        assert_eq!(
            choose(&existing, Bump::Major, None),
            Ok(Version::new(2, 0, 0))
        );
        assert_eq!(choose(&[], Bump::Patch, None), Ok(Version::new(0, 0, 1)));
        assert_eq!(choose(&[], Bump::Major, None), Ok(Version::new(1, 0, 0)));
        assert_eq!(
            choose(&existing, Bump::Patch, Some(Version::new(1, 2, 0))),
            Err(ChooseError::Exists(Version::new(1, 2, 0)))
        );
        assert!(matches!(
            choose(&existing, Bump::Patch, Some(Version::new(1, 5, 0))),
            Err(ChooseError::NotNewest { .. })
        ));
        assert_eq!(
            choose(&existing, Bump::Patch, Some(Version::new(3, 0, 0))),
            Ok(Version::new(3, 0, 0))
        );
    }

    proptest::proptest! {
        /// Formatting then parsing gives the same tag back, for any valid name and version.
        #[test]
        fn version_tag_roundtrip(
            name in "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(/[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?){0,2}",
            major in 0u64..100_000, minor in 0u64..100_000, patch in 0u64..100_000,
        ) {
            let tag = VersionTag::new(&name, Version::new(major, minor, patch));
            let parsed: VersionTag = tag.to_string().parse().unwrap();
            proptest::prop_assert_eq!(parsed, tag);
        }

        /// Stage tags round-trip too.
        #[test]
        fn stage_tag_roundtrip(
            name in "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(/[a-z0-9]{1,4}){0,2}",
            stage in "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?",
            number in 1u64..1_000_000,
        ) {
            let tag = StageTag { name, stage, number };
            let parsed: StageTag = tag.to_string().parse().unwrap();
            proptest::prop_assert_eq!(parsed, tag);
        }

        /// No text makes the parsers panic.
        #[test]
        fn parsers_never_panic(text in "\\PC{0,40}") {
            let _ = text.parse::<VersionTag>();
            let _ = text.parse::<StageTag>();
            let _ = text.parse::<Version>();
        }
    }
}
