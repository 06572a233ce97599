//! `blyan-node export-corpus`: Debian's `fortunes` topics as Chain D datasets.
//!
//! Each topic file becomes one dataset: its samples outside the genesis validation share
//! (`blyan_moe::data::is_validation` with `DEFAULT_VALIDATION_PERMILLE`, so no training
//! dataset holds a validation sample), with e-mail addresses, SSNs and phone numbers replaced
//! by `[email]`, `[ssn]`, `[phone]` (`blyan_moe::audit::redact_pii`; the `cookie` topic's old
//! Usenet signatures would otherwise fail the L0 PII rule). The text is written in fortune
//! format (`sample\n%\n`), and `datasets.json` lists, per topic, what `submit_dataset` needs:
//!
//! ```json
//! { "datasets": [ { "name": "art", "file": "art.txt", "contentRoot": "0x…", "samples": 460,
//!   "totalBytes": 43210, "sampleHashes": ["0x…", …] } ] }
//! ```
//!
//! `contentRoot` is `Dataset::from_text(name, text).content_root()` of the written text: the
//! root the engine recomputes when it trains or replays on the dataset.

use std::path::PathBuf;

use blyan_moe::data::{is_validation, Dataset, DEFAULT_VALIDATION_PERMILLE, SAMPLE_SEPARATOR};

/// Sample hashes listed per dataset in `datasets.json` (the record keeps a few as a spot
/// check; the content root covers all).
pub const LISTED_SAMPLE_HASHES: usize = 8;

/// Arguments of `blyan-node export-corpus`.
#[derive(Debug, clap::Parser)]
pub struct ExportCorpusCmd {
	/// The corpus folder (Debian's `fortunes` package).
	#[arg(long, default_value = crate::genesis::FORTUNES_DIR)]
	pub corpus: PathBuf,
	/// Output folder (created).
	#[arg(long)]
	pub out: PathBuf,
}

impl ExportCorpusCmd {
	/// Writes the datasets; prints one line per topic.
	///
	/// Errors: the corpus cannot be read (install `fortunes`), or the output cannot be written.
	pub fn run(&self) -> Result<(), String> {
		let topics = Dataset::load_corpus(&self.corpus)
			.map_err(|e| format!("{e} (install Debian's corpus: apt-get install fortunes)"))?;
		std::fs::create_dir_all(&self.out).map_err(|e| format!("{}: {e}", self.out.display()))?;
		let mut list = Vec::new();
		for topic in topics {
			let mut text = Vec::new();
			for s in topic.samples.iter().filter(|s| !is_validation(s, DEFAULT_VALIDATION_PERMILLE))
			{
				text.extend_from_slice(blyan_moe::audit::redact_pii(s).as_bytes());
				text.extend_from_slice(SAMPLE_SEPARATOR);
			}
			let text = String::from_utf8(text).map_err(|e| e.to_string())?;
			let Ok(dataset) = Dataset::from_text(&topic.name, &text) else { continue };
			let file = format!("{}.txt", topic.name);
			let path = self.out.join(&file);
			std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
			let hashes: Vec<String> = dataset
				.samples
				.iter()
				.take(LISTED_SAMPLE_HASHES)
				.map(|s| format!("0x{}", hex::encode(blyan_moe::data::sample_hash(s))))
				.collect();
			println!(
				"{:<16} {:>6} samples {:>8} bytes",
				topic.name,
				dataset.samples.len(),
				text.len()
			);
			list.push(serde_json::json!({
				"name": topic.name,
				"file": file,
				"contentRoot": format!("0x{}", hex::encode(dataset.content_root())),
				"samples": dataset.samples.len(),
				"totalBytes": text.len(),
				"sampleHashes": hashes,
			}));
		}
		let index = self.out.join("datasets.json");
		let json = serde_json::to_vec_pretty(&serde_json::json!({ "datasets": list }))
			.map_err(|e| e.to_string())?;
		std::fs::write(&index, json).map_err(|e| format!("{}: {e}", index.display()))?;
		println!("{} datasets -> {}", list.len(), index.display());
		Ok(())
	}
}
