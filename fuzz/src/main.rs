//! `blyan-fuzz`: runs the fuzz harness ([`blyan_fuzz::run`]) and prints a report; exits with
//! status 1 on any panic or invariant violation. docs/fuzz.md records the last 10^6-call run.

use clap::Parser;

/// Fuzzes every Blyan dispatchable against the runtime, checking every invariant after every
/// call.
#[derive(Parser)]
struct Args {
	/// Calls to dispatch.
	#[arg(long, default_value_t = 1_000_000)]
	calls: u64,
	/// Seed of the input generator.
	#[arg(long, default_value_t = 1)]
	seed: u64,
	/// Calls per episode; the state starts afresh after each.
	#[arg(long, default_value_t = 2_000)]
	episode: u64,
	/// Threads; thread j fuzzes its share of the calls with seed `seed + j`.
	#[arg(long, default_value_t = 1)]
	jobs: u64,
}

fn main() {
	let args = Args::parse();
	// Panics are counted and reported by the harness; keep their default messages quiet.
	std::panic::set_hook(Box::new(|_| {}));
	let started = std::time::Instant::now();
	let jobs = args.jobs.max(1);
	eprintln!(
		"blyan-fuzz: {} calls, seed {}, episodes of {}, {jobs} thread(s)",
		args.calls, args.seed, args.episode
	);
	let threads: Vec<_> = (0..jobs)
		.map(|j| {
			// Thread j takes calls / jobs, and the first calls % jobs threads one more.
			let calls = args.calls / jobs + u64::from(j < args.calls % jobs);
			let (seed, episode) = (args.seed + j, args.episode);
			std::thread::spawn(move || {
				blyan_fuzz::run(calls, seed, episode, &mut |s| {
					eprintln!(
						"  [{j}] {:>8} calls  {:>8} ok  {:>8} failed  {:>6} blocks  {} panics  {} violations  ({:.0} s)",
						s.calls,
						s.ok,
						s.failed,
						s.blocks,
						s.panics,
						s.violations,
						started.elapsed().as_secs_f64()
					);
				})
			})
		})
		.collect();
	let mut stats = blyan_fuzz::Stats::default();
	for t in threads {
		match t.join() {
			Ok(s) => stats.merge(s),
			Err(_) => {
				eprintln!("blyan-fuzz: a thread panicked outside a call");
				std::process::exit(1);
			},
		}
	}
	println!("calls       {}", stats.calls);
	println!("succeeded   {}", stats.ok);
	println!("failed      {}", stats.failed);
	println!("blocks      {}", stats.blocks);
	println!("panics      {}", stats.panics);
	println!("violations  {}", stats.violations);
	println!("seconds     {:.0}", started.elapsed().as_secs_f64());
	println!("per call (succeeded / failed):");
	for (name, (ok, failed)) in &stats.per_call {
		println!("  {name:<32} {ok:>8} / {failed}");
	}
	for f in &stats.findings {
		println!("finding: {f}");
	}
	if stats.panics > 0 || stats.violations > 0 {
		std::process::exit(1);
	}
}
