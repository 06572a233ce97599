//! Corpora, datasets and deterministic batches.
//!
//! - A **sample** is one fortune (the text between lines holding `%`) or one paragraph of a
//!   plain-text file.
//! - A **dataset** is the samples of one file; its content root is
//!   `merkle_root([blake3(sample) …])` (SPEC "Chain D"; `docs/hashing.md`).
//! - The **split** is by hash: a sample is held out for validation when
//!   `u64_le(blake3(sample)[0..8]) % 1000 < validation_permille`, so it does not depend on
//!   file order and a sample never changes sides when others are added.
//! - A dataset's training (or validation) **text** is its samples joined by `"\n%\n"`, the
//!   fortune separator, ending with one.
//! - A **batch** for step `s` draws each row from the stream `Rng::derive("batch", seed, s)`:
//!   a dataset by the mixing ratios (parts per million), then a uniform window of
//!   `seq_len + 1` bytes of that dataset's training text.

use std::path::Path;

use blyan_primitives::{merkle_root, Hash};
use serde::{Deserialize, Serialize};

use crate::rng::Rng;
use crate::{Error, Result};

/// Separator between samples in a dataset's text.
pub const SAMPLE_SEPARATOR: &[u8] = b"\n%\n";

/// Default share of samples held out for validation, in parts per thousand.
pub const DEFAULT_VALIDATION_PERMILLE: u32 = 100;

/// Parts per million: mixing ratios sum to this.
pub use blyan_primitives::pol::PPM;

/// A named list of text samples with its content root.
#[derive(Clone, Debug)]
pub struct Dataset {
	/// Name (the file name for a corpus file).
	pub name: String,
	/// Samples, in file order, each non-empty UTF-8 text.
	pub samples: Vec<String>,
}

/// Splits fortune-format text: entries separated by lines holding only `%`. Entries are
/// trimmed of surrounding blank lines; empty entries are dropped.
pub fn parse_fortunes(text: &str) -> Vec<String> {
	split_samples(text, |line| line.trim_end() == "%")
}

/// Splits plain text into paragraphs separated by blank lines.
pub fn parse_plain(text: &str) -> Vec<String> {
	split_samples(text, |line| line.trim().is_empty())
}

/// Splits `text` into samples at every line for which `is_separator` holds.
fn split_samples(text: &str, is_separator: impl Fn(&str) -> bool) -> Vec<String> {
	let mut out = Vec::new();
	let mut cur = String::new();
	for line in text.lines() {
		if is_separator(line) {
			push_sample(&mut out, &mut cur);
		} else {
			cur.push_str(line);
			cur.push('\n');
		}
	}
	push_sample(&mut out, &mut cur);
	out
}

fn push_sample(out: &mut Vec<String>, cur: &mut String) {
	let s = cur.trim_matches(|c| c == '\n' || c == '\r');
	if !s.trim().is_empty() {
		out.push(s.to_string());
	}
	cur.clear();
}

/// Hash of one sample: `blake3(utf8 bytes)`.
pub fn sample_hash(sample: &str) -> Hash {
	*blake3::hash(sample.as_bytes()).as_bytes()
}

/// Whether a sample belongs to the validation share (see the module docs).
pub fn is_validation(sample: &str, validation_permille: u32) -> bool {
	let h = sample_hash(sample);
	let mut first = [0u8; 8];
	first.copy_from_slice(&h[..8]);
	u64::from_le_bytes(first) % 1000 < u64::from(validation_permille)
}

fn join(samples: impl Iterator<Item = impl AsRef<str>>) -> Vec<u8> {
	let mut out = Vec::new();
	for s in samples {
		out.extend_from_slice(s.as_ref().as_bytes());
		out.extend_from_slice(SAMPLE_SEPARATOR);
	}
	out
}

impl Dataset {
	/// Builds a dataset from text, fortune format when some line holds only `%`, else
	/// paragraphs.
	///
	/// Errors: [`Error::EmptyCorpus`] when it has no samples.
	pub fn from_text(name: &str, text: &str) -> Result<Self> {
		let samples = if text.lines().any(|l| l.trim_end() == "%") {
			parse_fortunes(text)
		} else {
			parse_plain(text)
		};
		if samples.is_empty() {
			return Err(Error::EmptyCorpus(name.to_string()));
		}
		Ok(Self { name: name.to_string(), samples })
	}

	/// Reads one corpus file; the dataset is named after the file.
	///
	/// Errors: [`Error::Io`]; [`Error::NotText`] when the file is not UTF-8 (or holds NUL
	/// bytes); [`Error::EmptyCorpus`].
	pub fn from_file(path: &Path) -> Result<Self> {
		let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
		let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
		let text = std::str::from_utf8(&bytes).map_err(|e| Error::NotText {
			path: path.display().to_string(),
			offset: e.valid_up_to(),
		})?;
		if let Some(offset) = text.find('\0') {
			return Err(Error::NotText { path: path.display().to_string(), offset });
		}
		Self::from_text(&name, text).map_err(|_| Error::EmptyCorpus(path.display().to_string()))
	}

	/// Every corpus file of a folder (or the one file `path`), sorted by name. In a folder,
	/// hidden files, subfolders, and fortune index files (`*.dat`, `*.u8` links) are skipped.
	///
	/// Errors: as [`Dataset::from_file`]; [`Error::EmptyCorpus`] when a folder has no corpus file.
	pub fn load_corpus(path: &Path) -> Result<Vec<Self>> {
		if path.is_file() {
			return Ok(vec![Self::from_file(path)?]);
		}
		let mut files = Vec::new();
		for entry in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
			let entry = entry.map_err(|e| Error::io(path, e))?;
			let p = entry.path();
			let name = entry.file_name().to_string_lossy().into_owned();
			let is_index = p.extension().is_some_and(|x| x == "dat" || x == "u8");
			let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
			if is_file && !name.starts_with('.') && !is_index {
				files.push(p);
			}
		}
		files.sort();
		if files.is_empty() {
			return Err(Error::EmptyCorpus(path.display().to_string()));
		}
		files.iter().map(|p| Self::from_file(p)).collect()
	}

	/// `merkle_root` over the sample hashes, in order.
	pub fn content_root(&self) -> Hash {
		let hashes: Vec<Hash> = self.samples.iter().map(|s| sample_hash(s)).collect();
		merkle_root(&hashes)
	}

	/// Total UTF-8 bytes of the samples.
	pub fn total_bytes(&self) -> usize {
		self.samples.iter().map(|s| s.len()).sum()
	}

	/// Training text: the samples outside the validation share, joined.
	pub fn train_text(&self, validation_permille: u32) -> Vec<u8> {
		join(self.samples.iter().filter(|s| !is_validation(s, validation_permille)))
	}

	/// Validation text: the held-out samples, joined.
	pub fn validation_text(&self, validation_permille: u32) -> Vec<u8> {
		join(self.samples.iter().filter(|s| is_validation(s, validation_permille)))
	}
}

/// The validation text of several datasets, concatenated in the given order.
pub fn validation_text(datasets: &[Dataset], validation_permille: u32) -> Vec<u8> {
	datasets.iter().flat_map(|d| d.validation_text(validation_permille)).collect()
}

/// Mixing ratios in parts per million proportional to `weights` (for example each dataset's
/// training bytes), summing to exactly [`PPM`]: `blyan_primitives::shares::ratios_ppm`, the
/// definition the trainer's worker uses too.
///
/// Errors: [`Error::InvalidTraining`] when there are no weights or all are zero.
pub fn ratios_ppm(weights: &[u64]) -> Result<Vec<u32>> {
	blyan_primitives::shares::ratios_ppm(weights)
		.ok_or_else(|| Error::InvalidTraining("mixing weights must not all be zero".into()))
}

/// One training batch: `inputs` and `targets` are `[batch_size, seq_len]` byte ids
/// (row-major), targets shifted by one byte.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
	/// Input bytes as u32 ids, row-major `[batch_size, seq_len]`.
	pub inputs: Vec<u32>,
	/// Next-byte targets, same shape.
	pub targets: Vec<u32>,
	/// `blake3("blyan-batch" ‖ step ‖ batch_size ‖ seq_len ‖ (dataset u32 ‖ offset u64 ‖
	/// window bytes) per row)`, all integers little-endian: commits to the data and its order.
	pub hash: Hash,
}

/// Training texts of several datasets with mixing ratios; draws batches by step.
pub struct Mixture {
	texts: Vec<Vec<u8>>,
	ratios_ppm: Vec<u32>,
}

impl Mixture {
	/// Builds the mixture.
	///
	/// Errors: [`Error::InvalidTraining`] when the ratios do not match the datasets or do
	/// not sum to [`PPM`]; [`Error::DatasetTooShort`] when a dataset with a non-zero ratio
	/// has less than `seq_len + 1` bytes of training text.
	pub fn new(
		datasets: &[Dataset],
		ratios_ppm: &[u32],
		validation_permille: u32,
		seq_len: usize,
	) -> Result<Self> {
		if datasets.len() != ratios_ppm.len()
			|| ratios_ppm.iter().map(|r| u64::from(*r)).sum::<u64>() != u64::from(PPM)
		{
			return Err(Error::InvalidTraining(
				"one ratio per dataset, summing to 1 000 000 ppm".into(),
			));
		}
		let texts: Vec<Vec<u8>> =
			datasets.iter().map(|d| d.train_text(validation_permille)).collect();
		for ((d, t), r) in datasets.iter().zip(&texts).zip(ratios_ppm) {
			if *r > 0 && t.len() < seq_len + 1 {
				return Err(Error::DatasetTooShort {
					name: d.name.clone(),
					bytes: t.len(),
					window: seq_len + 1,
				});
			}
		}
		Ok(Self { texts, ratios_ppm: ratios_ppm.to_vec() })
	}

	/// The batch of training step `step` (see the module docs for the sampling rule).
	pub fn batch(&self, seed: u64, step: u64, batch_size: usize, seq_len: usize) -> Batch {
		let mut rng = Rng::derive("batch", seed, step);
		let mut h = blake3::Hasher::new();
		h.update(b"blyan-batch");
		h.update(&step.to_le_bytes());
		h.update(&(batch_size as u64).to_le_bytes());
		h.update(&(seq_len as u64).to_le_bytes());
		let mut inputs = Vec::with_capacity(batch_size * seq_len);
		let mut targets = Vec::with_capacity(batch_size * seq_len);
		for _ in 0..batch_size {
			let r = rng.below(u64::from(PPM));
			let mut acc = 0u64;
			let mut ds = 0;
			for (i, p) in self.ratios_ppm.iter().enumerate() {
				acc += u64::from(*p);
				if r < acc {
					ds = i;
					break;
				}
			}
			let text = &self.texts[ds];
			let offset = rng.below((text.len() - seq_len) as u64) as usize;
			let window = &text[offset..offset + seq_len + 1];
			h.update(&(ds as u32).to_le_bytes());
			h.update(&(offset as u64).to_le_bytes());
			h.update(window);
			inputs.extend(window[..seq_len].iter().map(|b| u32::from(*b)));
			targets.extend(window[1..].iter().map(|b| u32::from(*b)));
		}
		Batch { inputs, targets, hash: *h.finalize().as_bytes() }
	}
}

/// A dataset as a training manifest names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetClaim {
	/// Dataset name.
	pub name: String,
	/// Content root (hex).
	pub content_root: String,
	/// Number of samples.
	pub samples: u64,
	/// Mixing ratio, parts per million.
	pub ratio_ppm: u32,
}
