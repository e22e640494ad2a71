//! A provider's submission as its certified producer receives it: a release folder of the
//! `submission` profile (unsealed, or as written), opened only when it is whole and keyed for
//! this producer.
//!
//! Every file must be the one the submission's report lists, unchanged (blake3), with nothing
//! added; the report must say `released`; and its tokens must be keyed with the producer's token
//! key, which the fingerprint in its report and 提供記録 tells without the key.

use std::path::{Path, PathBuf};

use crate::seal::{SealError, release_manifest};

/// Why a submission cannot be used. Each names the folder and, once known, the provider.
#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    /// Not a whole, unchanged tokumei release (a file changed, missing or added).
    #[error("{0}")]
    NotARelease(String),
    /// A release, but not a submission, or one that was refused.
    #[error("{folder}: not a released submission ({why})")]
    NotASubmission {
        /// The folder.
        folder: String,
        /// What it is instead.
        why: String,
    },
    /// Its tokens are keyed with another token key than this producer's.
    #[error(
        "{folder}: the submission of `{provider}` is keyed with token key {found}, not this producer's ({expected}); \
         its tokens cannot be linked"
    )]
    WrongTokenKey {
        /// The folder.
        folder: String,
        /// The provider named in its 提供記録.
        provider: String,
        /// The fingerprint it carries.
        found: String,
        /// This producer's.
        expected: String,
    },
}

/// A checked submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Its folder.
    pub folder: PathBuf,
    /// The provider, as its 提供記録 names it.
    pub provider: String,
    /// Its release label.
    pub label: String,
    /// Its tables: name and Parquet file, in name order.
    pub tables: Vec<(String, PathBuf)>,
}

/// Opens the submission in `folder` for the producer whose token key has `token_key_fingerprint`.
pub fn open_submission(folder: &Path, token_key_fingerprint: &str) -> Result<Submission, SubmissionError> {
    let shown = folder.display().to_string();
    // Named, if its 提供記録 can still be read, so that the producer knows whom to ask.
    let named = |why: String| match provider_named(folder) {
        Some(provider) => SubmissionError::NotARelease(format!("the submission of `{provider}`: {why}")),
        None => SubmissionError::NotARelease(why),
    };
    let manifest = release_manifest(folder).map_err(|e| match e {
        SealError::NotARelease(why) => named(why),
        other => named(format!("{shown}: {other}")),
    })?;
    let not = |why: &str| SubmissionError::NotASubmission { folder: shown.clone(), why: why.to_string() };
    let read = |file: &str| -> Result<serde_json::Value, SubmissionError> {
        let text = std::fs::read_to_string(folder.join(file)).map_err(|_| not(&format!("no readable {file}")))?;
        serde_json::from_str(&text).map_err(|_| not(&format!("{file} is not JSON")))
    };
    let report = read("report.json")?;
    let field = |name: &str| report.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    if field("profile") != "submission" {
        return Err(not(&format!("profile `{}`", field("profile"))));
    }
    if field("status") != "released" {
        return Err(not(&format!("status `{}`", field("status"))));
    }
    let record = read("provision_record.json")?;
    let provider = record.get("provider").and_then(|v| v.as_str()).unwrap_or("(provider not named)").to_string();
    let found = field("token_key_fingerprint");
    if found != token_key_fingerprint || record.get("token_key_fingerprint").and_then(|v| v.as_str()) != Some(&found) {
        return Err(SubmissionError::WrongTokenKey {
            folder: shown,
            provider,
            found: if found.is_empty() { "(none)".into() } else { found },
            expected: token_key_fingerprint.to_string(),
        });
    }
    let tables = manifest
        .files
        .iter()
        .filter_map(|f| f.file.strip_suffix(".parquet").map(|table| (table.to_string(), folder.join(&f.file))))
        .collect();
    Ok(Submission { folder: folder.to_path_buf(), provider, label: field("label"), tables })
}

/// The provider a folder's 提供記録 names, if it has a readable one.
fn provider_named(folder: &Path) -> Option<String> {
    let text = std::fs::read_to_string(folder.join("provision_record.json")).ok()?;
    let record: serde_json::Value = serde_json::from_str(&text).ok()?;
    record.get("provider")?.as_str().map(str::to_string)
}
