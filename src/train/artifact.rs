//! The model file: a one-line header, then the payload.
//!
//! The first line is a small JSON object (`format`, `format_version`, `model_kind`,
//! `tool_version`, `task`) that any later mlgate can read without understanding the rest, so a
//! newer file is refused with a message naming both versions instead of a serde error deep in
//! a tree. The second line is the payload: target, classes, the fitted preprocessing and the
//! model. JSON keeps the file diffable and portable; `serde_json` writes floats in their
//! shortest exact form and our types hold no hash maps, so the bytes are reproducible.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::TaskKind;

use super::features::Preprocessor;

/// The `format` value of every mlgate model file.
pub const FORMAT: &str = "mlgate-model";

/// The payload layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The model file's file name inside a model directory.
pub const MODEL_FILE: &str = "model.mlgate";

/// The first line of a model file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The payload layout.
    pub format_version: u32,
    /// E.g. `random_forest`.
    pub model_kind: String,
    /// The mlgate version that wrote the file.
    pub tool_version: String,
    /// Classification or regression.
    pub task: TaskKind,
}

/// Everything needed to score new rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload<M> {
    /// The target column.
    pub target: String,
    /// The id column, if the data has one.
    pub id: Option<String>,
    /// Class names in index order (empty for regression).
    pub classes: Vec<String>,
    /// Imputation, scaling and encoding of the features.
    pub preprocessor: Preprocessor,
    /// The fitted model.
    pub model: M,
}

/// A model file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// Not a model file at all.
    #[error("`{path}` is not an mlgate model file: {reason}")]
    NotAModel {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// Written by a newer mlgate.
    #[error(
        "`{path}` is model format {found} (written by mlgate {tool}); this mlgate {ours} reads format {FORMAT_VERSION} and older"
    )]
    TooNew {
        /// The file.
        path: String,
        /// Its format version.
        found: u32,
        /// The mlgate that wrote it.
        tool: String,
        /// This build's version.
        ours: &'static str,
    },
    /// The header is fine but the payload is damaged.
    #[error("`{path}` has a damaged payload: {reason}")]
    Damaged {
        /// The file.
        path: String,
        /// The parse error.
        reason: String,
    },
}

/// The header for a model of `kind` written by this build.
pub fn header(kind: &str, task: TaskKind) -> Header {
    Header {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        model_kind: kind.into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        task,
    }
}

/// The bytes of a model file.
pub fn encode<M: Serialize>(header: &Header, payload: &Payload<M>) -> anyhow::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(header)?;
    bytes.push(b'\n');
    serde_json::to_writer(&mut bytes, payload)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Reads the header and payload of model file bytes; `path` names the file in errors.
pub fn decode<M: DeserializeOwned>(
    path: &str,
    bytes: &[u8],
) -> Result<(Header, Payload<M>), ArtifactError> {
    let not_a_model = |reason: String| ArtifactError::NotAModel {
        path: path.to_string(),
        reason,
    };
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| not_a_model("no header line".into()))?;
    let header: Header = serde_json::from_slice(&bytes[..end])
        .map_err(|e| not_a_model(format!("unreadable header ({e})")))?;
    if header.format != FORMAT {
        return Err(not_a_model(format!("format is `{}`", header.format)));
    }
    if header.format_version > FORMAT_VERSION {
        return Err(ArtifactError::TooNew {
            path: path.to_string(),
            found: header.format_version,
            tool: header.tool_version,
            ours: env!("CARGO_PKG_VERSION"),
        });
    }
    let payload =
        serde_json::from_slice(&bytes[end + 1..]).map_err(|e| ArtifactError::Damaged {
            path: path.to_string(),
            reason: e.to_string(),
        })?;
    Ok((header, payload))
}

/// Reads a model file.
pub fn read<M: DeserializeOwned>(path: &Path) -> anyhow::Result<(Header, Payload<M>)> {
    let bytes = fs_err::read(path)?;
    Ok(decode(&path.display().to_string(), &bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in model.
    type Toy = Vec<f64>;

    /// A small payload.
    fn payload() -> Payload<Toy> {
        Payload {
            target: "y".into(),
            id: None,
            classes: vec!["a".into(), "b".into()],
            preprocessor: Preprocessor {
                encodings: Vec::new(),
            },
            model: vec![0.1, 0.2 + 0.1],
        }
    }

    #[test]
    fn round_trips_and_is_reproducible() {
        let h = header("toy", TaskKind::Classification);
        let bytes = encode(&h, &payload()).expect("encode");
        assert_eq!(bytes, encode(&h, &payload()).expect("encode again"));
        let (back_header, back): (Header, Payload<Toy>) = decode("m", &bytes).expect("decode");
        assert_eq!(back_header, h);
        assert_eq!(back, payload());
        let first_line = bytes.split(|&b| b == b'\n').next().expect("line");
        let text = String::from_utf8(first_line.to_vec()).expect("utf8");
        assert!(
            text.starts_with(r#"{"format":"mlgate-model","format_version":1"#),
            "{text}"
        );
    }

    #[test]
    fn a_newer_format_is_refused_by_name() {
        let mut h = header("toy", TaskKind::Regression);
        h.format_version = 99;
        h.tool_version = "9.0.0".into();
        let mut bytes = serde_json::to_vec(&h).expect("json");
        bytes.extend_from_slice(b"\n{\"something\":\"new\"}\n");
        let err = decode::<Toy>("champion/model.mlgate", &bytes).expect_err("too new");
        let text = err.to_string();
        assert!(text.contains("format 99"), "{text}");
        assert!(text.contains("mlgate 9.0.0"), "{text}");
        assert!(text.contains("champion/model.mlgate"), "{text}");
    }

    #[test]
    fn other_files_and_damage_get_clear_errors() {
        for garbage in [
            &b""[..],
            b"hello",
            b"{\"format\":\"zip\"}\n{}",
            b"\xff\xfe\n",
        ] {
            let err = decode::<Toy>("x", garbage).expect_err("refused");
            assert!(matches!(err, ArtifactError::NotAModel { .. }), "{err}");
        }
        let h = header("toy", TaskKind::Regression);
        let mut bytes = encode(&h, &payload()).expect("encode");
        bytes.truncate(bytes.len() - 10);
        assert!(matches!(
            decode::<Toy>("x", &bytes),
            Err(ArtifactError::Damaged { .. })
        ));
    }
}
