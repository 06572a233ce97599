//! `blyan-moe`: command-line front end of the Blyan MoE engine.
//!
//! Folders: `--home` (default `./blyan-data`) holds the content-addressed store
//! (`store/<hash>.safetensors`); model indexes (`model.json`) and manifests are plain files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow_like::{bail, Context, Result};
use blyan_moe::data::{ratios_ppm, validation_text, Dataset, DEFAULT_VALIDATION_PERMILLE};
use blyan_moe::eval::EvalReport;
use blyan_moe::generate::{GenerateRequest, Generator};
use blyan_moe::model::init_weights;
use blyan_moe::optim::AdamWParams;
use blyan_moe::store::{parse_hash, DirStore, ModelIndex, UnitStore};
use blyan_moe::train::{train, verify_result, Manifest, Replayer, TrainParams};
use blyan_moe::units::{all_units, inspect_payload, UnitId};
use blyan_moe::Config;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

/// Minimal error plumbing for the CLI: any error becomes a message and exit code 1.
mod anyhow_like {
	pub type Result<T> = std::result::Result<T, String>;
	pub trait Context<T> {
		fn context(self, what: &str) -> Result<T>;
	}
	impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
		fn context(self, what: &str) -> Result<T> {
			self.map_err(|e| format!("{what}: {e}"))
		}
	}
	macro_rules! bail {
        ($($t:tt)*) => { return Err(format!($($t)*)) };
    }
	pub(crate) use bail;
}

/// Blyan's native Mixture-of-Experts engine: initialise, train, evaluate, replay, generate
/// and inspect models cut into content-addressed units.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
	/// Folder of the content-addressed store (`<home>/store`).
	#[arg(long, global = true, default_value = "blyan-data")]
	home: PathBuf,
	/// CPU threads for tensor kernels (sets RAYON_NUM_THREADS). Results are bitwise
	/// identical for any value on one machine.
	#[arg(long, global = true)]
	threads: Option<usize>,
	#[command(subcommand)]
	cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
	/// Create a seeded initial model and write its units to the store.
	Init {
		/// Preset: `tiny` (default model) or `test` (very small).
		#[arg(long, default_value = "tiny")]
		preset: String,
		/// A config JSON file instead of a preset.
		#[arg(long)]
		config: Option<PathBuf>,
		/// Initialisation seed.
		#[arg(long, default_value_t = 42)]
		seed: u64,
		/// Where to write the model index.
		#[arg(long, default_value = "blyan-data/genesis.json")]
		out: PathBuf,
	},
	/// Train some units of a model (partial mining) and write the new model and its PoDL manifest.
	Train(TrainArgs),
	/// Validation cross-entropy of a model, in nats and bits per byte.
	Eval {
		/// Model index.
		#[arg(long)]
		model: PathBuf,
		#[command(flatten)]
		data: DataArgs,
		/// Window length in bytes (default: the model's context).
		#[arg(long)]
		seq_len: Option<usize>,
		/// Windows per forward pass.
		#[arg(long, default_value_t = blyan_moe::eval::DEFAULT_EVAL_BATCH)]
		batch_size: usize,
		/// Evaluate only the windows a validator checks of a claim's evaluation record:
		/// ⌈windows / 32⌉, drawn from this seed (64 hex digits) for claim 0 as the chain does
		/// (docs/pol.md "Verification by sampled windows"). Prints their total.
		#[arg(long)]
		check_windows: Option<String>,
		/// Also write every window's loss, nano-nats, one per line, to this file.
		#[arg(long)]
		windows_out: Option<PathBuf>,
	},
	/// Re-execute training segments from a manifest and check they reproduce its hashes.
	Replay {
		/// PoDL manifest written by `train`.
		#[arg(long)]
		manifest: PathBuf,
		#[command(flatten)]
		data: DataArgs,
		/// Segment to replay (repeatable). Default: sample with --sample.
		#[arg(long)]
		segment: Vec<usize>,
		/// Number of segments to sample when no --segment is given.
		#[arg(long, default_value_t = 3)]
		sample: usize,
		/// Randomness (64 hex digits) that picks the sampled segments; default: hash of the manifest.
		#[arg(long)]
		randomness: Option<String>,
	},
	/// Generate text with the model, loading only the experts the router picks.
	Generate {
		/// Model index.
		#[arg(long)]
		model: PathBuf,
		/// Prompt text.
		#[arg(long)]
		prompt: String,
		/// Bytes to generate.
		#[arg(long, default_value_t = 200)]
		max_tokens: usize,
		/// Sampling temperature (0 = greedy).
		#[arg(long, default_value_t = 0.8)]
		temperature: f64,
		/// Sampling seed.
		#[arg(long, default_value_t = 0)]
		seed: u64,
		/// Expert cache size, MiB.
		#[arg(long, default_value_t = 64)]
		cache_mib: usize,
		/// Print the result as JSON.
		#[arg(long)]
		json: bool,
		/// Use the reference path (a full forward pass per byte, no key-value cache), for
		/// comparison.
		#[arg(long)]
		reference: bool,
	},
	/// Show a payload's safetensors header, tiles and hash (a file, or a hash in the store).
	Inspect {
		/// A payload file, or a 64-digit hash in the store.
		target: String,
	},
	/// Train every unit continuously for a wall-time budget and write the validation curve
	/// (the engine-alone baseline of scripts/benchmarks/learning-efficiency.sh): CSV
	/// `seconds,step,nats_per_byte`, seconds of training only (evaluations are not counted).
	Curve {
		/// Parent model index.
		#[arg(long)]
		model: PathBuf,
		#[command(flatten)]
		data: DataArgs,
		/// Training wall time, minutes.
		#[arg(long, default_value_t = 30.0)]
		minutes: f64,
		/// Evaluate after every this many seconds of training.
		#[arg(long, default_value_t = 30.0)]
		every_seconds: f64,
		/// AdamW learning rate (the trainer worker's).
		#[arg(long, default_value_t = 3e-3)]
		lr: f64,
		/// Rows per batch (the trainer worker's).
		#[arg(long, default_value_t = 16)]
		batch_size: usize,
		/// Bytes per row (the trainer worker's).
		#[arg(long, default_value_t = 64)]
		seq_len: usize,
		/// Batch-order seed.
		#[arg(long, default_value_t = 1)]
		seed: u64,
		/// Where to write the CSV.
		#[arg(long, default_value = "blyan-data/curve.csv")]
		out: PathBuf,
	},
	/// Print this machine's engine fingerprint (docs/engine.md "Determinism across CPU
	/// kinds"): validators only judge manifests whose fingerprint is their own.
	Fingerprint,
}

#[derive(clap::Args)]
struct DataArgs {
	/// Corpus: a fortune-format or plain-text file, or a folder of them (one dataset each).
	#[arg(long, default_value = "/usr/share/games/fortunes")]
	data: PathBuf,
	/// Share of samples held out for validation, per mille.
	#[arg(long, default_value_t = DEFAULT_VALIDATION_PERMILLE)]
	validation_permille: u32,
}

#[derive(clap::Args)]
struct TrainArgs {
	/// Parent model index.
	#[arg(long)]
	model: PathBuf,
	#[command(flatten)]
	data: DataArgs,
	/// Units to train, comma-separated (`layer0.expert3,layer1.router`), or `all`.
	#[arg(long, default_value = "layer0.expert0")]
	units: String,
	/// Optimiser steps.
	#[arg(long, default_value_t = 300)]
	steps: u64,
	/// AdamW learning rate.
	#[arg(long, default_value_t = 3e-3)]
	lr: f64,
	/// Batch-order seed.
	#[arg(long, default_value_t = 1)]
	seed: u64,
	/// Rows per batch.
	#[arg(long, default_value_t = 16)]
	batch_size: usize,
	/// Bytes per row.
	#[arg(long, default_value_t = 64)]
	seq_len: usize,
	/// Checkpoint interval K, in steps (1 keeps replay of 29 segments under 10 % of 300 steps).
	#[arg(long, default_value_t = 1)]
	checkpoint_every: u64,
	/// Where to write the trained model's index.
	#[arg(long, default_value = "blyan-data/trained.json")]
	out: PathBuf,
	/// Where to write the PoDL manifest.
	#[arg(long, default_value = "blyan-data/manifest.json")]
	manifest: PathBuf,
	/// Skip the validation before and after training.
	#[arg(long)]
	no_eval: bool,
}

fn bar(len: u64, what: &str) -> ProgressBar {
	let pb = ProgressBar::new(len);
	pb.set_style(
		ProgressStyle::with_template(
			"{msg:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta}) {prefix}",
		)
		.unwrap_or_else(|_| ProgressStyle::default_bar()),
	);
	pb.set_message(what.to_string());
	pb
}

fn load_data(args: &DataArgs) -> Result<Vec<Dataset>> {
	let ds = Dataset::load_corpus(&args.data).context("corpus")?;
	eprintln!(
		"corpus {}: {} datasets, {} samples, {} bytes",
		args.data.display(),
		ds.len(),
		ds.iter().map(|d| d.samples.len()).sum::<usize>(),
		ds.iter().map(|d| d.total_bytes()).sum::<usize>()
	);
	Ok(ds)
}

fn eval_model(
	index: &ModelIndex,
	store: &dyn UnitStore,
	text: &[u8],
	seq_len: usize,
	batch_size: usize,
) -> Result<EvalReport> {
	let pb = bar(0, "eval");
	let r = blyan_moe::eval::evaluate_index(
		index,
		store,
		text,
		seq_len,
		batch_size,
		&mut |done, total| {
			pb.set_length(total as u64);
			pb.set_position(done as u64);
			Ok(())
		},
	)
	.context("evaluate")?;
	pb.finish_and_clear();
	Ok(r)
}

fn run(cli: Cli) -> Result<()> {
	let store = DirStore::open(cli.home.join("store")).context("store")?;
	match cli.cmd {
		Cmd::Init { preset, config, seed, out } => {
			let cfg = match config {
				Some(p) => serde_json::from_str(&std::fs::read_to_string(&p).context("config")?)
					.context("config")?,
				None => match preset.as_str() {
					"tiny" => Config::tiny(),
					"test" => Config::test(),
					other => bail!("unknown preset {other:?} (tiny, test)"),
				},
			};
			let index =
				ModelIndex::save_weights(&cfg, &init_weights(&cfg, seed).context("init")?, &store)
					.context("save")?;
			index.write(&out).context("write index")?;
			println!("initialised {} units (seed {seed}) -> {}", index.units.len(), out.display());
			println!("backbone {}", index.units["backbone"]);
		},
		Cmd::Train(a) => {
			let parent = ModelIndex::read(&a.model).context("model")?;
			let cfg = parent.config.clone();
			let units: BTreeSet<UnitId> = if a.units == "all" {
				all_units(&cfg).into_iter().collect()
			} else {
				a.units
					.split(',')
					.map(|u| UnitId::parse_in(u.trim(), &cfg))
					.collect::<std::result::Result<_, _>>()
					.context("--units")?
			};
			let datasets = load_data(&a.data)?;
			let weights: Vec<u64> = datasets
				.iter()
				.map(|d| d.train_text(a.data.validation_permille).len() as u64)
				.collect();
			let ratios = ratios_ppm(&weights).context("mixing ratios")?;
			let params = TrainParams {
				seed: a.seed,
				steps: a.steps,
				batch_size: a.batch_size,
				seq_len: a.seq_len,
				checkpoint_every: a.checkpoint_every,
				validation_permille: a.data.validation_permille,
				adamw: AdamWParams::with_lr(a.lr),
			};
			let val = validation_text(&datasets, a.data.validation_permille);
			let before = if a.no_eval {
				None
			} else {
				Some(eval_model(&parent, &store, &val, cfg.max_position_embeddings, 16)?)
			};
			let pb = bar(a.steps, "train");
			let outcome = train(&parent, &store, &units, &datasets, &ratios, &params, &mut |r| {
				pb.set_prefix(format!("loss {:.3}", r.loss));
				pb.inc(1);
				Ok(())
			})
			.context("train")?;
			pb.finish_and_clear();
			outcome.index.write(&a.out).context("write model")?;
			outcome.manifest.write(&a.manifest).context("write manifest")?;
			println!(
				"trained {} unit(s) for {} steps -> {}",
				units.len(),
				a.steps,
				a.out.display()
			);
			println!(
				"manifest {} ({} checkpoints, batch root {})",
				a.manifest.display(),
				outcome.manifest.checkpoints.len(),
				outcome.manifest.batch_root
			);
			if let Some(before) = before {
				let after =
					eval_model(&outcome.index, &store, &val, cfg.max_position_embeddings, 16)?;
				println!(
					"validation nats/byte: {:.4} -> {:.4} ({:+.2} %)",
					before.nats_per_byte,
					after.nats_per_byte,
					(after.nats_per_byte / before.nats_per_byte - 1.0) * 100.0
				);
			}
		},
		Cmd::Eval { model, data, seq_len, batch_size, check_windows, windows_out } => {
			let index = ModelIndex::read(&model).context("model")?;
			let datasets = load_data(&data)?;
			let val = validation_text(&datasets, data.validation_permille);
			let seq_len = seq_len.unwrap_or(index.config.max_position_embeddings);
			let n = blyan_moe::eval::windows(&val, seq_len).len();
			// The windows a validator checks (whole record batches drawn from the seed), or all.
			let select: Vec<u32> = match &check_windows {
				Some(seed) => {
					let seed = parse_hash("--check-windows", seed).context("seed")?;
					let b = blyan_moe::eval::record_batches(n) as u32;
					let batches = blyan_primitives::pol::challenge_eval_batches(&seed, 0, b);
					blyan_moe::eval::batch_windows(&batches, n)
				},
				None => (0..n as u32).collect(),
			};
			let pb = bar(select.len() as u64, "eval");
			let losses = blyan_moe::eval::evaluate_index_windows(
				&index,
				&store,
				&val,
				seq_len,
				batch_size,
				&select,
				&mut |done, _| {
					pb.set_position(done as u64);
					Ok(())
				},
			)
			.context("evaluate")?;
			pb.finish_and_clear();
			if check_windows.is_some() {
				println!(
					"checked {} of {n} windows: {} nano-nats",
					select.len(),
					losses.iter().sum::<u64>()
				);
				return Ok(());
			}
			if let Some(out) = windows_out {
				let lines: String = losses.iter().map(|l| format!("{l}\n")).collect();
				std::fs::write(&out, lines).context("writing --windows-out")?;
			}
			let r =
				EvalReport::of_windows(&losses, blyan_moe::eval::predicted_bytes(&val, seq_len));
			println!(
				"nats/byte {:.6}  bits/byte {:.6}  bytes {}",
				r.nats_per_byte, r.bits_per_byte, r.bytes
			);
			println!("exact nats/byte {:?}", r.nats_per_byte);
		},
		Cmd::Replay { manifest, data, segment, sample, randomness } => {
			let m = Manifest::read(&manifest).context("manifest")?;
			let datasets = load_data(&data)?;
			let segments = if segment.is_empty() {
				let r = match randomness {
					Some(h) => parse_hash("--randomness", &h).context("randomness")?,
					None => m.hash(),
				};
				// The chain's challenge draw, claim id 0.
				blyan_primitives::pol::challenge_segments(
					&r,
					0,
					m.params.segments() as u32,
					sample as u32,
				)
				.into_iter()
				.map(|s| s as usize)
				.collect()
			} else {
				segment
			};
			let replayer = Replayer::new(&m, &store, &datasets).context("replay")?;
			let pb = bar(segments.len() as u64, "replay");
			for s in &segments {
				let r = replayer.replay(*s).map_err(|e| format!("segment {s}: REJECT: {e}"))?;
				pb.inc(1);
				pb.suspend(|| {
					println!("segment {s} (steps {:?}): OK {}", r.steps, hex::encode(r.checkpoint))
				});
			}
			pb.finish_and_clear();
			verify_result(&m, &store).map_err(|e| format!("result: REJECT: {e}"))?;
			println!(
				"replayed {} of {} segments: all match; result units match the last checkpoint",
				segments.len(),
				m.params.segments()
			);
		},
		Cmd::Generate {
			model,
			prompt,
			max_tokens,
			temperature,
			seed,
			cache_mib,
			json,
			reference,
		} => {
			let index = ModelIndex::read(&model).context("model")?;
			let mut g = Generator::new(&index, &store, cache_mib << 20).context("load model")?;
			let req = GenerateRequest {
				prompt: prompt.clone(),
				max_new_tokens: max_tokens,
				temperature,
				seed,
			};
			let out = if reference {
				g.generate_reference(&req, &mut |_| true)
			} else {
				g.generate(&req)
			}
			.context("generate")?;
			if json {
				println!("{}", serde_json::to_string_pretty(&out).context("json")?);
			} else {
				println!("{prompt}{}", out.text);
				eprintln!(
					"-- {} bytes in {:.0} ms (first byte after {:.1} ms); {} units served it ({} \
					 expert loads)",
					out.tokens,
					out.elapsed_ms,
					out.first_byte_ms,
					out.units_used.len(),
					out.expert_loads
				);
			}
		},
		Cmd::Inspect { target } => {
			let path = Path::new(&target);
			let bytes = if path.exists() {
				std::fs::read(path).context("read")?
			} else {
				let h =
					parse_hash("hash", &target).context("target is neither a file nor a hash")?;
				store.fetch(&h).context("store")?.to_vec()
			};
			let info = inspect_payload(&bytes).context("inspect")?;
			println!("payload root {}", info.root);
			println!("{} bytes in {} tile(s)", info.bytes, info.tiles.len());
			for (i, (h, len)) in info.tiles.iter().enumerate() {
				println!("  tile {i}: {h} ({len} bytes)");
			}
			for (name, dtype, shape) in &info.tensors {
				println!("  {name}: {dtype} {shape:?}");
			}
		},
		Cmd::Curve { model, data, minutes, every_seconds, lr, batch_size, seq_len, seed, out } => {
			let parent = ModelIndex::read(&model).context("model")?;
			let cfg = parent.config.clone();
			let datasets = load_data(&data)?;
			let weights: Vec<u64> = datasets
				.iter()
				.map(|d| d.train_text(data.validation_permille).len() as u64)
				.collect();
			let ratios = ratios_ppm(&weights).context("mixing ratios")?;
			let mixture = blyan_moe::data::Mixture::new(
				&datasets,
				&ratios,
				data.validation_permille,
				seq_len,
			)
			.context("datasets")?;
			let val = validation_text(&datasets, data.validation_permille);
			let units: BTreeSet<UnitId> = all_units(&cfg).into_iter().collect();
			let mut state = blyan_moe::train::TrainState::new(
				&cfg,
				parent.load_weights(&store, None).context("model")?,
				&units,
				AdamWParams::with_lr(lr),
			)
			.context("model")?;
			let eval = |state: &blyan_moe::train::TrainState| -> Result<f64> {
				let vb = blyan_moe::model::var_builder(state.weights());
				let m = blyan_moe::model::Model::new(&cfg, vb.clone()).context("model")?;
				let mut experts =
					blyan_moe::model::ResidentExperts::new(&cfg, &vb).context("model")?;
				let r = blyan_moe::eval::evaluate(
					&m,
					&mut experts,
					&val,
					cfg.max_position_embeddings,
					blyan_moe::eval::RECORD_BATCH,
					&mut |_, _| Ok(()),
				)
				.context("evaluate")?;
				Ok(r.chain_loss() as f64 / 1e9)
			};
			let budget = std::time::Duration::from_secs_f64(minutes * 60.0);
			let every = std::time::Duration::from_secs_f64(every_seconds.max(1.0));
			let mut rows = vec![(0.0, 0u64, eval(&state)?)];
			println!("{:>8.1} s {:>6} steps  validation {:.4} nats/byte", 0.0, 0, rows[0].2);
			let (mut trained, mut next, mut step) = (std::time::Duration::ZERO, every, 0u64);
			while trained < budget {
				let batch = mixture.batch(seed, step, batch_size, seq_len);
				let t0 = std::time::Instant::now();
				state.step(&batch, batch_size, seq_len).context("train")?;
				trained += t0.elapsed();
				step += 1;
				if trained >= next || trained >= budget {
					let loss = eval(&state)?;
					rows.push((trained.as_secs_f64(), step, loss));
					println!(
						"{:>8.1} s {step:>6} steps  validation {loss:.4} nats/byte",
						trained.as_secs_f64()
					);
					next += every;
				}
			}
			let mut csv = String::from("seconds,step,nats_per_byte\n");
			for (t, s, l) in &rows {
				csv.push_str(&format!("{t:.1},{s},{l:.9}\n"));
			}
			std::fs::write(&out, csv).context("write the curve")?;
			println!("{} points -> {}", rows.len(), out.display());
		},
		Cmd::Fingerprint => {
			let fp = blyan_moe::fingerprint::engine_fingerprint_hex().context("fingerprint")?;
			println!("engine fingerprint {fp}");
			println!("cpu {}", blyan_moe::fingerprint::cpu_kind());
		},
	}
	Ok(())
}

fn main() {
	let cli = Cli::parse();
	if let Some(n) = cli.threads {
		// Before any tensor work: candle reads RAYON_NUM_THREADS when it splits a kernel.
		std::env::set_var("RAYON_NUM_THREADS", n.to_string());
	}
	if let Err(e) = run(cli) {
		eprintln!("error: {e}");
		std::process::exit(1);
	}
}
