//! Inference (SPEC "Inference and usage economics"): the model accepted at a block, with the
//! backbone and routers loaded per request and only the experts the router picks fetched from
//! the content store, through one LRU cache kept across requests. Serves `blyan_generate`,
//! its streaming subscription and [`Job::Generate`](blyan_engine_interface::Job::Generate).

use std::sync::{Arc, Mutex};

use blyan_engine_interface::{Hash, JobOutput};
use sp_core::H256;

use super::view::{accepted_index, ChainStore, ChainView};

/// Longest `max_new_tokens` of one generation request.
pub const MAX_NEW_TOKENS: u32 = 2048;

/// Longest prompt of one generation request, bytes (the model reads at most its context, 128
/// bytes of the dev model, of it; this bounds what a request makes the node hold and hash).
pub const MAX_PROMPT_BYTES: usize = 4096;

/// Size of the expert LRU cache of inference, bytes (an expert of the dev model is about
/// 0.4 MB, so the whole dev model fits).
pub const INFERENCE_CACHE_BYTES: usize = 64 << 20;

/// Inference for `blyan_generate` and [`Job::Generate`] (SPEC "Inference"): the model accepted
/// at a block, with the backbone and routers loaded per request and only the experts the
/// router picks fetched from the content store, through one LRU cache kept across requests.
pub struct Inference {
	chain: Arc<dyn ChainView>,
	/// One expert cache for every request, concurrent ones included.
	cache: Arc<Mutex<blyan_moe::store::ExpertCache>>,
}

impl Inference {
	/// Inference over `chain`.
	pub fn new(chain: Arc<dyn ChainView>) -> Arc<Self> {
		let cache = blyan_moe::store::ExpertCache::new(INFERENCE_CACHE_BYTES);
		Arc::new(Self { chain, cache: Arc::new(Mutex::new(cache)) })
	}

	/// Generates up to `max_new_tokens` bytes after `prompt` with the model accepted at `at`
	/// (the best block when `None`), sampling at `temperature` (0 = greedy) from `seed`;
	/// `on_byte` sees every byte as it is sampled and returns whether to go on (`false` stops
	/// the generation there: the subscriber left). Returns the output and the block used.
	///
	/// Errors: `max_new_tokens` above [`MAX_NEW_TOKENS`]; a prompt longer than
	/// [`MAX_PROMPT_BYTES`] or empty; chain reads and payload decoding.
	pub fn generate(
		&self,
		at: Option<H256>,
		prompt: &str,
		max_new_tokens: u32,
		temperature: f64,
		seed: u64,
		on_byte: &mut dyn FnMut(u8) -> bool,
	) -> Result<(blyan_moe::generate::GenerateOutput, H256), String> {
		if max_new_tokens > MAX_NEW_TOKENS {
			return Err(format!("max_new_tokens is at most {MAX_NEW_TOKENS}"));
		}
		if prompt.len() > MAX_PROMPT_BYTES {
			return Err(format!("the prompt is at most {MAX_PROMPT_BYTES} bytes"));
		}
		if !temperature.is_finite() || temperature < 0.0 {
			return Err("temperature must be a finite number ≥ 0".into());
		}
		let chain = &*self.chain;
		let at = at.unwrap_or_else(|| chain.best());
		let (cfg, _) = chain.latest_spec(at)?;
		let index = accepted_index(chain, at, &cfg)?;
		let store = ChainStore { chain, at };
		let mut generator =
			blyan_moe::generate::Generator::with_cache(&index, &store, self.cache.clone())
				.map_err(|e| e.to_string())?;
		let req = blyan_moe::generate::GenerateRequest {
			prompt: prompt.to_string(),
			max_new_tokens: max_new_tokens as usize,
			temperature,
			seed,
		};
		let out = generator.generate_streaming(&req, on_byte).map_err(|e| e.to_string());
		out.map(|o| (o, at))
	}
}

/// Runs a [`Job::Generate`](blyan_engine_interface::Job::Generate) with `inference`.
pub fn generate_job(
	inference: &Inference,
	chain: &dyn ChainView,
	at: u32,
	prompt: &[u8],
	max_new_tokens: u32,
	temperature_milli: u32,
	seed: u64,
) -> Result<JobOutput, String> {
	let at = chain.hash_of(at)?;
	let prompt =
		String::from_utf8(prompt.to_vec()).map_err(|_| "the prompt is not UTF-8".to_string())?;
	let temperature = f64::from(temperature_milli) / 1000.0;
	let (out, _) =
		inference.generate(Some(at), &prompt, max_new_tokens, temperature, seed, &mut |_| true)?;
	let units = out
		.units_used
		.values()
		.map(|h| blyan_moe::store::parse_hash("unit", h).map_err(|e| e.to_string()))
		.collect::<Result<Vec<Hash>, String>>()?;
	Ok(JobOutput::Generated { text: out.text.into_bytes(), units, millis: out.elapsed_ms as u64 })
}
