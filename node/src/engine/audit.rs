//! [`Job::AuditDataset`](blyan_engine_interface::Job::AuditDataset): the L0 pre-filter (SPEC
//! "Chain D") over a dataset's published text, including the samples it shares with the
//! current spec's validation set (`blyan_moe::audit::audit_against`).

use blyan_engine_interface::JobOutput;
use blyan_moe::audit::{audit_against, validation_hashes};

use super::view::{dataset_text, ChainView};

/// The L0 figures of dataset `id`'s published text at block `at`.
///
/// Errors: the block, dataset, text or validation set cannot be read.
pub fn audit_dataset(chain: &dyn ChainView, at: u32, id: u32) -> Result<JobOutput, String> {
	let at = chain.hash_of(at)?;
	let info = chain.dataset(at, id)?;
	let samples = dataset_text(chain, at, id, &info).map(|d| d.samples).unwrap_or_default();
	let (_, validation_id) = chain.latest_spec(at)?;
	let validation = if validation_id == id {
		Default::default()
	} else {
		let v = chain.dataset(at, validation_id)?;
		validation_hashes(&dataset_text(chain, at, validation_id, &v)?.samples)
	};
	Ok(JobOutput::Audit(audit_against(&samples, &validation)))
}
