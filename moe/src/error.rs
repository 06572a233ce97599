//! The engine's error type.

use crate::units::UnitId;

/// A 32-byte hash printed as hex in messages.
pub(crate) fn hex32(h: &[u8; 32]) -> String {
	hex::encode(h)
}

/// Everything that can go wrong in the engine. Bad input never panics: it ends here.
#[derive(Debug, thiserror::Error)]
pub enum Error {
	/// A tensor operation failed (shape mismatch inside the model, out of memory, ...).
	#[error("tensor operation failed: {0}")]
	Candle(#[from] candle_core::Error),
	/// Reading or writing a file failed.
	#[error("{path}: {source}")]
	Io {
		/// The file or folder.
		path: String,
		/// The underlying error.
		source: std::io::Error,
	},
	/// A JSON document (config, model index, manifest) could not be read or written.
	#[error("{what}: invalid JSON: {source}")]
	Json {
		/// Which document.
		what: String,
		/// The underlying error.
		source: serde_json::Error,
	},
	/// The caller stopped the work from its progress callback (for example a job past its
	/// time budget).
	#[error("stopped: {0}")]
	Stopped(String),
	/// A configuration value is out of range.
	#[error("invalid config: {0}")]
	InvalidConfig(String),
	/// A payload's payload root is not the expected hash.
	#[error("hash mismatch for {what}: expected {}, got {}", hex32(expected), hex32(actual))]
	HashMismatch {
		/// What was being verified.
		what: String,
		/// Hash the caller asked for.
		expected: [u8; 32],
		/// Payload root of the bytes received.
		actual: [u8; 32],
	},
	/// The bytes are not a valid safetensors file (corrupt or truncated header or data).
	#[error("{what}: corrupt or truncated safetensors payload: {reason}")]
	CorruptPayload {
		/// What was being loaded.
		what: String,
		/// What the parser said.
		reason: String,
	},
	/// A unit payload lacks a tensor its layout requires, or has one it should not.
	#[error("{unit}: tensor set differs from the layout: {reason}")]
	WrongTensors {
		/// The unit.
		unit: UnitId,
		/// Missing or unexpected names.
		reason: String,
	},
	/// A tensor has the wrong shape for the configuration.
	#[error("{name}: wrong shape: expected {expected:?}, got {actual:?}")]
	WrongShape {
		/// Tensor name.
		name: String,
		/// Shape the config implies.
		expected: Vec<usize>,
		/// Shape in the payload.
		actual: Vec<usize>,
	},
	/// A tensor has the wrong dtype (units are always F32).
	#[error("{name}: wrong dtype: expected F32, got {actual}")]
	WrongDtype {
		/// Tensor name.
		name: String,
		/// Dtype in the payload.
		actual: String,
	},
	/// The store has no payload with that hash.
	#[error("payload {} is not in the store", hex32(.0))]
	NotFound([u8; 32]),
	/// A unit name is not of the form `backbone`, `layer{l}.router` or `layer{l}.expert{e}`,
	/// or it names a layer or expert the config does not have.
	#[error("unknown unit {0:?}")]
	UnknownUnit(String),
	/// A corpus has no samples.
	#[error("{0}: the corpus has no samples")]
	EmptyCorpus(String),
	/// A corpus file is not UTF-8 text (binary, or another encoding).
	#[error("{path}: not a UTF-8 text file (first bad byte at offset {offset})")]
	NotText {
		/// The file.
		path: String,
		/// Byte offset of the first invalid sequence.
		offset: usize,
	},
	/// A dataset is too short for one training window.
	#[error("dataset {name}: {bytes} bytes of training text is shorter than one window of {window} bytes")]
	DatasetTooShort {
		/// Dataset name.
		name: String,
		/// Training bytes it has.
		bytes: usize,
		/// Window length the batch needs (`seq_len + 1`).
		window: usize,
	},
	/// Training or replay parameters are invalid.
	#[error("invalid training parameters: {0}")]
	InvalidTraining(String),
	/// The datasets given to a replay do not match the manifest.
	#[error("dataset mismatch: {0}")]
	DatasetMismatch(String),
	/// Replay reproduced a different batch than the manifest records.
	#[error(
		"replay: batch of step {step} differs from the manifest (expected {}, got {})",
		hex32(expected),
		hex32(actual)
	)]
	BatchMismatch {
		/// Training step (0-based).
		step: u64,
		/// Batch hash in the manifest.
		expected: [u8; 32],
		/// Batch hash the replay drew.
		actual: [u8; 32],
	},
	/// Replay reproduced a different checkpoint than the manifest records.
	#[error(
		"replay: checkpoint {index} differs from the manifest (expected {}, got {})",
		hex32(expected),
		hex32(actual)
	)]
	CheckpointMismatch {
		/// Checkpoint index (0 = before training).
		index: usize,
		/// Checkpoint hash in the manifest.
		expected: [u8; 32],
		/// Checkpoint hash the replay produced.
		actual: [u8; 32],
	},
	/// The manifest is internally inconsistent (batch root, counts).
	#[error("invalid manifest: {0}")]
	InvalidManifest(String),
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
	/// Wraps an I/O error with the path it concerns.
	pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
		Error::Io { path: path.as_ref().display().to_string(), source }
	}
}
