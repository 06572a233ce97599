//! Engine benchmarks. Each section prints its figures and a ratio against its baseline from
//! a single run; `docs/benchmarks.md` records them with the machine.
//!
//! ```text
//! cargo bench -p blyan-moe --bench engine              # every section
//! cargo bench -p blyan-moe --bench engine -- selective # one section: torch|selective|load|replay
//! ```
//! The `torch` section compares with `moe/bench/torch_bench.py` when the venv made by
//! `moe/bench/setup_torch.sh` exists (`$TORCH_VENV`, default `~/.cache/blyan/torch-venv`),
//! with the same thread count (`RAYON_NUM_THREADS`, default: all cores).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use blyan_moe::data::{Batch, Dataset, PPM};
use blyan_moe::model::{init_weights, var_builder, Model, MoeMode, ResidentExperts};
use blyan_moe::optim::AdamWParams;
use blyan_moe::rng::Rng;
use blyan_moe::store::{DirStore, MemStore, ModelIndex, UnitStore};
use blyan_moe::train::{train, Replayer, TrainParams, TrainState};
use blyan_moe::units::{all_units, decode_unit, encode_unit, UnitId};
use blyan_moe::Config;
use candle_core::{Device, Tensor};

fn threads() -> usize {
	std::env::var("RAYON_NUM_THREADS")
		.ok()
		.and_then(|s| s.parse().ok())
		.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

fn random_ids(rng: &mut Rng, n: usize) -> Vec<u32> {
	(0..n).map(|_| rng.below(256) as u32).collect()
}

/// Training and inference tokens/s of the default model, against PyTorch.
fn bench_torch() {
	let cfg = Config::tiny();
	let weights = init_weights(&cfg, 0).unwrap();
	let (b, t) = (16, 64);
	let all: BTreeSet<UnitId> = all_units(&cfg).into_iter().collect();
	let mut state =
		TrainState::new(&cfg, weights.clone(), &all, AdamWParams::with_lr(1e-3)).unwrap();
	let mut rng = Rng::derive("bench", 0, 0);
	let mut step = |rng: &mut Rng| {
		let ids = random_ids(rng, b * (t + 1));
		let batch = Batch {
			inputs: (0..b).flat_map(|r| ids[r * (t + 1)..r * (t + 1) + t].to_vec()).collect(),
			targets: (0..b)
				.flat_map(|r| ids[r * (t + 1) + 1..(r + 1) * (t + 1)].to_vec())
				.collect(),
			hash: [0; 32],
		};
		state.step(&batch, b, t).unwrap();
	};
	for _ in 0..3 {
		step(&mut rng);
	}
	let start = Instant::now();
	for _ in 0..20 {
		step(&mut rng);
	}
	let train_tps = (20 * b * t) as f64 / start.elapsed().as_secs_f64();

	let vb = var_builder(&weights);
	let model = Model::new(&cfg, vb.clone()).unwrap();
	let mut experts = ResidentExperts::new(&cfg, &vb).unwrap();
	let (b, t) = (16, 128);
	let ids = Tensor::from_vec(random_ids(&mut rng, b * t), (b, t), &Device::Cpu).unwrap();
	for _ in 0..3 {
		model.forward(&ids, &mut experts, MoeMode::Selective).unwrap();
	}
	let start = Instant::now();
	for _ in 0..20 {
		model.forward(&ids, &mut experts, MoeMode::Selective).unwrap();
	}
	let infer_tps = (20 * b * t) as f64 / start.elapsed().as_secs_f64();
	println!("[torch] threads {}", threads());
	println!("[torch] candle train tokens/s: {train_tps:.1} (16x64, AdamW, all units)");
	println!("[torch] candle infer tokens/s: {infer_tps:.1} (16x128 forward)");

	let venv = std::env::var("TORCH_VENV").map(PathBuf::from).unwrap_or_else(|_| {
		PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/blyan/torch-venv")
	});
	let python = venv.join("bin/python");
	let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/torch_bench.py");
	if !python.exists() {
		println!(
			"[torch] no PyTorch venv at {}: run moe/bench/setup_torch.sh for the ratio",
			venv.display()
		);
		return;
	}
	let out = std::process::Command::new(python)
		.arg(script)
		.args(["--threads", &threads().to_string(), "--json"])
		.output()
		.expect("run torch_bench.py");
	let stdout = String::from_utf8_lossy(&out.stdout);
	let Some(json) = stdout.lines().rev().find(|l| l.starts_with('{')) else {
		println!(
			"[torch] torch_bench.py printed no result: {}",
			String::from_utf8_lossy(&out.stderr)
		);
		return;
	};
	let v: serde_json::Value = serde_json::from_str(json).expect("torch json");
	let (tt, ti) = (
		v["train_tokens_per_s"].as_f64().unwrap_or(f64::NAN),
		v["infer_tokens_per_s"].as_f64().unwrap_or(f64::NAN),
	);
	println!(
		"[torch] torch {} train tokens/s: {tt:.1}, infer tokens/s: {ti:.1}",
		v["torch_version"]
	);
	println!(
		"[torch] ratio candle/torch: train {:.2}x (target >= 1.2x), infer {:.2}x (target >= 1.5x)",
		train_tps / tt,
		infer_tps / ti
	);
}

/// One MoE feed-forward layer, selective against dense (every expert on every token).
fn bench_selective() {
	let cfg = Config::tiny();
	let weights = init_weights(&cfg, 0).unwrap();
	let vb = var_builder(&weights);
	let model = Model::new(&cfg, vb.clone()).unwrap();
	let mut experts = ResidentExperts::new(&cfg, &vb).unwrap();
	let n = 2048;
	let mut rng = Rng::derive("bench", 1, 0);
	let xs: Vec<f32> = (0..n * cfg.hidden_size).map(|_| rng.symmetric_f32(1.0)).collect();
	let xs = Tensor::from_vec(xs, (n, cfg.hidden_size), &Device::Cpu).unwrap();
	let mut time = |mode: MoeMode| {
		for _ in 0..3 {
			model.moe_forward(0, &xs, &mut experts, mode).unwrap();
		}
		let start = Instant::now();
		for _ in 0..20 {
			model.moe_forward(0, &xs, &mut experts, mode).unwrap();
		}
		start.elapsed().as_secs_f64() / 20.0
	};
	let (sel, dense) = (time(MoeMode::Selective), time(MoeMode::Dense));
	let target = cfg.num_experts_per_tok as f64 / cfg.num_local_experts as f64;
	println!(
		"[selective] MoE FFN on {n} tokens: selective {:.2} ms, dense {:.2} ms",
		sel * 1e3,
		dense * 1e3
	);
	println!("[selective] ratio selective/dense: {:.3} (ideal top-k/E = {target:.3})", sel / dense);
}

/// Loading one ~4 MiB expert: mmap + safetensors against read-and-deserialize.
fn bench_load() {
	// 3 * 256 * 1365 * 4 bytes = 4.0 MiB of weights.
	let cfg = Config {
		hidden_size: 256,
		intermediate_size: 1365,
		num_hidden_layers: 1,
		num_local_experts: 2,
		..Config::tiny()
	};
	let unit = UnitId::Expert { layer: 0, expert: 0 };
	let weights = init_weights(&cfg, 0).unwrap();
	let bytes = encode_unit(&cfg, unit, &weights).unwrap();
	let dir = tempfile::tempdir().unwrap();
	let store = DirStore::open(dir.path()).unwrap();
	let hash = store.put(&bytes).unwrap();
	let path = store.path_of(&hash);
	// The JSON baseline: the same tensors as name -> flat f32 list (what pickle/JSON-style
	// stores of the original prototype amounted to).
	let json_path = dir.path().join("expert.json");
	let as_json: std::collections::BTreeMap<String, Vec<f32>> =
		decode_unit(&cfg, unit, &bytes, &hash)
			.unwrap()
			.into_iter()
			.map(|(k, v)| (k, v.flatten_all().unwrap().to_vec1().unwrap()))
			.collect();
	std::fs::write(&json_path, serde_json::to_vec(&as_json).unwrap()).unwrap();
	let reps = 20;
	let time = |f: &dyn Fn()| {
		f();
		let start = Instant::now();
		for _ in 0..reps {
			f();
		}
		start.elapsed().as_secs_f64() / reps as f64
	};
	let mmap = time(&|| {
		let p = store.fetch(&hash).unwrap();
		decode_unit(&cfg, unit, &p, &hash).unwrap();
	});
	let read = time(&|| {
		let p = std::fs::read(&path).unwrap();
		decode_unit(&cfg, unit, &p, &hash).unwrap();
	});
	let json = time(&|| {
		let m: std::collections::BTreeMap<String, Vec<f32>> =
			serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
		for (_, v) in m {
			let n = v.len();
			Tensor::from_vec(v, n, &Device::Cpu).unwrap();
		}
	});
	println!("[load] expert payload {} bytes (hash-verified load, warm page cache)", bytes.len());
	println!(
		"[load] mmap+safetensors {:.2} ms, read+safetensors {:.2} ms, read+JSON {:.2} ms",
		mmap * 1e3,
		read * 1e3,
		json * 1e3
	);
	println!(
		"[load] ratio read+safetensors/mmap: {:.2}x; read+JSON/mmap: {:.2}x (target >= 10x)",
		read / mmap,
		json / mmap
	);
}

/// Replay of 29 sampled segments against the whole training run (one expert, K = 1).
fn bench_replay() {
	let cfg = Config::tiny();
	let store = MemStore::default();
	let index = ModelIndex::save_weights(&cfg, &init_weights(&cfg, 42).unwrap(), &store).unwrap();
	let mut text = String::new();
	let mut rng = Rng::derive("bench-text", 0, 0);
	for _ in 0..2000 {
		let words: Vec<String> = (0..8).map(|_| format!("w{}", rng.below(500))).collect();
		text.push_str(&words.join(" "));
		text.push_str("\n%\n");
	}
	let ds = [Dataset::from_text("synthetic", &text).unwrap()];
	let params = TrainParams {
		seed: 1,
		steps: 300,
		batch_size: 16,
		seq_len: 64,
		checkpoint_every: 1,
		validation_permille: 100,
		adamw: AdamWParams::with_lr(3e-3),
	};
	let units: BTreeSet<UnitId> = [UnitId::Expert { layer: 0, expert: 0 }].into();
	let start = Instant::now();
	let out = train(&index, &store, &units, &ds, &[PPM], &params, &mut |_| Ok(())).unwrap();
	let train_s = start.elapsed().as_secs_f64();
	let segments: Vec<usize> = blyan_primitives::pol::challenge_segments(
		&out.manifest.hash(),
		0,
		params.segments() as u32,
		29,
	)
	.into_iter()
	.map(|s| s as usize)
	.collect();
	let start = Instant::now();
	let replayer = Replayer::new(&out.manifest, &store, &ds).unwrap();
	for s in &segments {
		replayer.replay(*s).unwrap();
	}
	let replay_s = start.elapsed().as_secs_f64();
	let catch = 1.0 - 0.9f64.powi(segments.len() as i32);
	println!("[replay] training 300 steps (K = 1, one expert): {train_s:.2} s; replaying {} segments: {replay_s:.2} s", segments.len());
	println!("[replay] P(catch 10 % faked steps) = {:.1} %", catch * 100.0);
	println!("[replay] ratio replay/training: {:.3} (target <= 0.10)", replay_s / train_s);
}

fn main() {
	let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
	let on = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
	if on("selective") {
		bench_selective();
	}
	if on("load") {
		bench_load();
	}
	if on("replay") {
		bench_replay();
	}
	if on("torch") {
		bench_torch();
	}
}
