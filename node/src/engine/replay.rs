//! [`Job::ReplayClaim`]: the validators' check that a claim's PoDL manifest is bound to the
//! claim, and the replay of its challenged segments (SPEC "Proof-of-Learning").
//!
//! The checks run in order of cost, and nothing is allocated for training before the cheap
//! ones pass:
//!
//! 1. the manifest's size against `ManifestLimits::max_manifest_bytes` (before fetching it);
//! 2. its JSON; its trainer (the claim's signer), training parameters (the claim's, within the
//!    limits), trained units (exactly the claim's), config (the latest spec at the base
//!    block), parent (the trained units' payloads accepted at the claim's base block; frozen
//!    units may be any payloads of theirs, because other units may have moved while the
//!    trainer trained — what is accepted is decided by the evaluation in the base block's
//!    model, docs/pol.md), datasets and ratios (the claim's, by name and content root),
//!    results (the candidates);
//! 3. the memory a training step of these parameters needs, against the job's budget (and,
//!    before the replay, that step together with the named datasets' texts);
//! 4. the size of every checkpoint it needs, against the size a checkpoint of the unit has;
//! 5. the **result binding**: the trained tensors of the last checkpoint are exactly the
//!    candidate payloads (`blyan_moe::train::verify_result`). Chosen over always challenging
//!    the last segment because it costs no training: the last checkpoint must then follow from
//!    the others, which the random challenge samples (docs/pol.md, "Binding");
//! 6. the replay of each challenged segment, bit for bit.
//!
//! Between 2 and 3, the manifest's engine fingerprint must be this node's
//! (`blyan_moe::fingerprint`); otherwise the verdict is [`ReplayVerdict::EngineMismatch`]:
//! this machine cannot reproduce the trainer's bits, so it does not judge them.
//!
//! A failing check 1, 2, 4 or 5 is [`ReplayVerdict::Unbound`]; a manifest or checkpoint not in
//! the content store is [`ReplayVerdict::Unavailable`]; a segment that does not reproduce is
//! [`ReplayVerdict::Mismatch`]. A failing check 3 fails the job: the parameters are within the
//! chain's limits, so the node's budget is too small and the validator abstains.

use std::collections::{BTreeMap, BTreeSet};

use blyan_engine_interface::{Hash, Job, JobOutput, ReplayVerdict};
use blyan_moe::{
	store::parse_hash,
	train::{checkpoint_len_bound, step_memory_bound, verify_result, Manifest, Replayer},
	units::UnitId,
};

use super::{
	evaluate::unit_len_bound,
	view::{accepted_index, load_datasets, unit_name, ChainStore, ChainView},
	JobCtx, LOG_TARGET,
};

/// Longest time a replay waits, in all, for the challenged checkpoints to appear in the
/// content store (the trainer publishes them once it sees the challenge).
pub const CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The outcome of a replay that found the claim at fault.
fn verdict(verdict: ReplayVerdict, why: &str) -> Result<JobOutput, String> {
	log::info!(target: LOG_TARGET, "replay {verdict:?}: {why}");
	Ok(JobOutput::Replay { verdict, digest: [0; 32] })
}

/// Classifies an engine error of the result check or a segment's replay.
fn replay_error(e: blyan_moe::Error) -> Result<JobOutput, String> {
	use blyan_moe::Error as E;
	match e {
		E::BatchMismatch { .. } | E::CheckpointMismatch { .. } | E::CorruptPayload { .. } => {
			verdict(ReplayVerdict::Mismatch, &e.to_string())
		},
		E::NotFound(_) => verdict(ReplayVerdict::Unavailable, &e.to_string()),
		E::Stopped(why) => Err(why),
		// A checkpoint whose tensors do not fit the unit, a result that is not the last
		// checkpoint, data that does not match: the manifest does not hold together.
		other => verdict(ReplayVerdict::Unbound, &other.to_string()),
	}
}

/// Runs a [`Job::ReplayClaim`]; see the module docs. Any other job is an error.
pub fn replay_claim(
	chain: &dyn ChainView,
	job: &Job,
	ctx: &mut JobCtx,
) -> Result<JobOutput, String> {
	let Job::ReplayClaim { at, trainer, units, manifest, datasets, params, segments, limits } = job
	else {
		return Err("not a replay job".into());
	};
	let at = chain.hash_of(*at)?;
	let best = chain.best();
	let claimed: BTreeMap<String, String> = units
		.iter()
		.map(|(u, c)| Ok((unit_name(u)?.to_string(), hex::encode(c))))
		.collect::<Result<_, String>>()?;

	// 1. Size, before anything is fetched.
	let len = match chain.payload_len(best, manifest) {
		Ok(len) => len,
		Err(e) => return verdict(ReplayVerdict::Unavailable, &format!("manifest: {e}")),
	};
	if len > u64::from(limits.max_manifest_bytes) {
		return verdict(
			ReplayVerdict::Unbound,
			&format!("manifest of {len} bytes, limit {}", limits.max_manifest_bytes),
		);
	}
	let bytes = match chain.payload(best, manifest) {
		Ok(b) => b,
		Err(e) => return verdict(ReplayVerdict::Unavailable, &format!("manifest: {e}")),
	};

	// 2. Binding.
	let m: Manifest = match serde_json::from_slice(&bytes) {
		Ok(m) => m,
		Err(e) => return verdict(ReplayVerdict::Unbound, &format!("manifest is not JSON: {e}")),
	};
	if m.trainer != Manifest::trainer_of(trainer) {
		return verdict(ReplayVerdict::Unbound, "the manifest names another trainer");
	}
	if m.claimed_params() != Some(*params) {
		return verdict(ReplayVerdict::Unbound, "the manifest's parameters are not the claim's");
	}
	if limits.check(params).is_err() {
		return verdict(ReplayVerdict::Unbound, "the parameters exceed the manifest limits");
	}
	if let Err(e) = m.check() {
		return verdict(ReplayVerdict::Unbound, &format!("manifest: {e}"));
	}
	let trained: BTreeSet<&String> = m.trained_units.iter().collect();
	if claimed.len() != units.len()
		|| trained.len() != m.trained_units.len()
		|| !trained.iter().copied().eq(claimed.keys())
	{
		return verdict(ReplayVerdict::Unbound, &format!("manifest trains {:?}", m.trained_units));
	}
	if m.result != claimed {
		return verdict(
			ReplayVerdict::Unbound,
			"the manifest's results are not the claimed payloads",
		);
	}
	let (cfg, _) = chain.latest_spec(at)?;
	let parent = accepted_index(chain, at, &cfg)?;
	let same_units =
		m.parent.len() == parent.units.len() && m.parent.keys().eq(parent.units.keys());
	let trained_from_accepted = claimed.keys().all(|u| m.parent.get(u) == parent.units.get(u));
	if m.config != cfg || !same_units || !trained_from_accepted {
		return verdict(ReplayVerdict::Unbound, "the manifest starts from another model");
	}
	if m.datasets.len() != datasets.len() {
		return verdict(ReplayVerdict::Unbound, "the manifest names other datasets");
	}
	for (named, share) in m.datasets.iter().zip(datasets) {
		let info = chain.dataset(at, share.dataset)?;
		if named.ratio_ppm != share.ratio_ppm
			|| named.name != info.name
			|| named.content_root != hex::encode(info.content_root)
		{
			return verdict(
				ReplayVerdict::Unbound,
				&format!(
					"dataset {} ({}) is not the manifest's {}",
					share.dataset, info.name, named.name
				),
			);
		}
	}

	// 2b. The engine: a validator that cannot compute the trainer's bits does not judge
	// (checked after the binding, so a thief or a misnamed manifest is still `Unbound`).
	let own = blyan_moe::fingerprint::engine_fingerprint_hex().map_err(|e| e.to_string())?;
	if m.engine != own {
		return verdict(
			ReplayVerdict::EngineMismatch,
			&format!("the manifest's engine is {:?}, this node's is {own}", m.engine),
		);
	}

	// 3. Memory of one step, against this node's budget.
	let step_bytes = step_memory_bound(&cfg, params.batch_size as usize, params.seq_len as usize);
	ctx.check_memory("a training step of this claim", step_bytes)?;

	// 4. Checkpoint sizes: the challenged segments' ends and the last checkpoint.
	let mut trained: BTreeSet<UnitId> = BTreeSet::new();
	for u in claimed.keys() {
		match UnitId::parse_in(u, &cfg) {
			Ok(id) => trained.insert(id),
			Err(e) => return verdict(ReplayVerdict::Unbound, &format!("unit {u}: {e}")),
		};
	}
	let bound = checkpoint_len_bound(&cfg, &trained);
	// Frozen units that are not the accepted ones: each at most the size of its unit, so a
	// manifest cannot make validators load an arbitrary large payload as a unit.
	for (u, root) in m.parent.iter().filter(|(u, r)| parent.units.get(*u) != Some(*r)) {
		let Ok(id) = UnitId::parse_in(u, &cfg) else {
			return verdict(ReplayVerdict::Unbound, &format!("frozen unit {u} is not a unit"));
		};
		let unit_bound = unit_len_bound(&cfg, id);
		let Ok(root) = parse_hash("frozen unit", root) else {
			return verdict(ReplayVerdict::Unbound, &format!("frozen unit {u}: not a hash"));
		};
		match chain.payload_len(best, &root) {
			Ok(len) if len > unit_bound => {
				return verdict(
					ReplayVerdict::Unbound,
					&format!("frozen unit {u} of {len} bytes (a unit has at most {unit_bound})"),
				)
			},
			Ok(_) => {},
			Err(e) => return verdict(ReplayVerdict::Unavailable, &format!("frozen unit {u}: {e}")),
		}
	}
	let last = m.checkpoints.len().saturating_sub(1);
	let mut needed: Vec<usize> = segments.iter().map(|s| *s as usize).collect();
	needed.push(last);
	let mut roots: Vec<Hash> = Vec::with_capacity(needed.len());
	for i in &needed {
		let Some(Ok(root)) = m.checkpoints.get(*i).map(|c| parse_hash("checkpoint", c)) else {
			return verdict(ReplayVerdict::Unbound, &format!("no checkpoint {i}"));
		};
		roots.push(root);
	}
	// The trainer publishes the challenged segments' start checkpoints and the last one once
	// it sees the challenge, usually a block after this job was queued: wait for them.
	let waited = std::time::Instant::now();
	let mut best = chain.best();
	for root in &roots {
		loop {
			match chain.payload_len(best, root) {
				Ok(len) if len > bound => {
					return verdict(ReplayVerdict::Unbound, &format!("a checkpoint of {len} bytes"))
				},
				Ok(_) => break,
				Err(_) if waited.elapsed() < CHECKPOINT_WAIT => {
					ctx.tick(0, segments.len() as u32)?;
					std::thread::sleep(std::time::Duration::from_secs(1));
					best = chain.best();
				},
				Err(e) => return verdict(ReplayVerdict::Unavailable, &format!("checkpoint: {e}")),
			}
		}
	}
	let store = ChainStore { chain, at: best };

	// 5. The result is the last checkpoint's trained tensors.
	if let Err(e) = verify_result(&m, &store) {
		return replay_error(e);
	}

	// 6. The challenged segments. The named datasets' texts are held twice (text, mixture).
	let mut text_bytes: u64 = 0;
	for share in datasets {
		let info = chain.dataset(at, share.dataset)?;
		text_bytes =
			text_bytes.saturating_add(chain.payload_len(at, &info.text)?.saturating_mul(2));
	}
	// The texts are held while the segments train: they share the budget with a step.
	ctx.check_memory(
		"the named datasets with a training step",
		text_bytes.saturating_add(step_bytes),
	)?;
	let texts = load_datasets(chain, at, datasets)?;
	let replayer = match Replayer::new(&m, &store, &texts) {
		Ok(r) => r,
		Err(e) => return replay_error(e),
	};
	let mut reproduced = Vec::with_capacity(segments.len() + 1);
	for (k, segment) in segments.iter().enumerate() {
		ctx.tick(k as u32, segments.len() as u32)?;
		match replayer.replay(*segment as usize) {
			Ok(r) => reproduced.push(r.checkpoint),
			Err(e) => return replay_error(e),
		}
	}
	reproduced.push(roots[roots.len() - 1]);
	let digest = blyan_primitives::merkle_root(&reproduced);
	Ok(JobOutput::Replay { verdict: ReplayVerdict::Match, digest })
}
