//! Bitwise determinism across thread counts, checked through the CLI in separate processes
//! (candle reads RAYON_NUM_THREADS per process). Uses the default (`tiny`) model with
//! 16 x 64 batches so that the matmuls are large enough for gemm to split across threads.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_blyan-moe");

fn cli(home: &Path, threads: usize, args: &[&str]) -> String {
	let out = Command::new(BIN)
		.arg("--home")
		.arg(home)
		.arg("--threads")
		.arg(threads.to_string())
		.args(args)
		.output()
		.expect("run blyan-moe");
	assert!(
		out.status.success(),
		"blyan-moe {args:?} failed: {}",
		String::from_utf8_lossy(&out.stderr)
	);
	String::from_utf8(out.stdout).expect("utf-8 output")
}

fn corpus(dir: &Path) -> std::path::PathBuf {
	let path = dir.join("corpus");
	let mut text = String::new();
	for i in 0..400 {
		text.push_str(&format!(
			"Fortune number {i}: a {} day brings {} luck.\n%\n",
			["calm", "wild", "grey"][i % 3],
			["good", "odd", "no"][i % 5 % 3]
		));
	}
	std::fs::write(&path, text).unwrap();
	path
}

#[test]
fn evaluation_and_training_are_bitwise_identical_for_1_and_2_threads() {
	let dir = tempfile::tempdir().unwrap();
	let home = dir.path().join("home");
	let data = corpus(dir.path());
	let data = data.to_str().unwrap();
	let genesis = dir.path().join("g.json");
	cli(&home, 2, &["init", "--preset", "tiny", "--out", genesis.to_str().unwrap()]);

	let mut evals = Vec::new();
	let mut manifests = Vec::new();
	for threads in [1, 2] {
		let out = cli(
			&home,
			threads,
			&["eval", "--model", genesis.to_str().unwrap(), "--data", data, "--batch-size", "8"],
		);
		let exact = out
			.lines()
			.find(|l| l.starts_with("exact nats/byte"))
			.expect("exact line")
			.to_string();
		evals.push(exact);
		let manifest = dir.path().join(format!("m{threads}.json"));
		let trained = dir.path().join(format!("t{threads}.json"));
		cli(
			&home,
			threads,
			&[
				"train",
				"--model",
				genesis.to_str().unwrap(),
				"--data",
				data,
				"--units",
				"all",
				"--steps",
				"4",
				"--batch-size",
				"16",
				"--seq-len",
				"64",
				"--checkpoint-every",
				"2",
				"--no-eval",
				"--out",
				trained.to_str().unwrap(),
				"--manifest",
				manifest.to_str().unwrap(),
			],
		);
		manifests.push(std::fs::read_to_string(&manifest).unwrap());
	}
	assert_eq!(evals[0], evals[1], "evaluation differs between 1 and 2 threads");
	assert_eq!(manifests[0], manifests[1], "training differs between 1 and 2 threads");

	// A manifest made with 2 threads replays with 1.
	let m2 = dir.path().join("m2.json");
	let out = cli(
		&home,
		1,
		&[
			"replay",
			"--manifest",
			m2.to_str().unwrap(),
			"--data",
			data,
			"--segment",
			"0",
			"--segment",
			"1",
		],
	);
	assert!(out.contains("all match"), "{out}");
}

#[test]
fn the_engine_fingerprint_does_not_depend_on_the_thread_count() {
	// Validators compare fingerprints before judging a replay: one machine must not have two.
	let dir = tempfile::tempdir().unwrap();
	let prints: Vec<String> = [1, 2]
		.iter()
		.map(|&threads| {
			let out = cli(dir.path(), threads, &["fingerprint"]);
			let line = out.lines().find(|l| l.starts_with("engine fingerprint 0x")).unwrap();
			assert_eq!(line.len(), "engine fingerprint 0x".len() + 64, "{line}");
			line.to_string()
		})
		.collect();
	assert_eq!(prints[0], prints[1]);
}
