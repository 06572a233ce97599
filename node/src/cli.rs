//! Command-line types of `blyan-node`.

/// The `blyan-node` command line: run a node, or one of the subcommands.
#[derive(Debug, clap::Parser)]
pub struct Cli {
	/// The subcommand to run; none runs the node.
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	/// Options of the node itself (`--dev`, `--chain`, `--validator`, ports, ...).
	#[clap(flatten)]
	pub run: sc_cli::RunCmd,

	/// Native engine threads that run off-chain workers' jobs (evaluation, replay, audit,
	/// training) beside block import. Each job's matrix products also use the machine's
	/// cores.
	#[arg(long, default_value_t = 1)]
	pub engine_threads: usize,

	/// Largest memory one engine job may plan for, MiB: a training step, a replay or an
	/// evaluation whose estimate is larger fails instead of allocating.
	#[arg(long, default_value_t = 4096)]
	pub engine_memory_mib: u64,

	/// Longest time one engine job may run, seconds; a job past it fails.
	#[arg(long, default_value_t = 3600)]
	pub engine_job_seconds: u64,

	/// Do not run the trainer worker (pallet-trainer): without this flag a node with a Blyan
	/// worker key (`blyn`) trains experts on the engine and claims their improvement, with
	/// the key's account paying the bond.
	#[arg(long)]
	pub no_trainer: bool,

	/// Optimiser steps per training run of the trainer worker (default: the runtime's
	/// `pallet_trainer::Config::Steps`). Must stay within the chain's manifest limits.
	#[arg(long)]
	pub train_steps: Option<u32>,

	/// The units the trainer worker trains: comma-separated unit names (`layer0.router`),
	/// prefixes ending in `*` (`layer1.*`) or `*` for every unit. It claims the whole
	/// selection at once while that clears δ, else one unit at a time (docs/pol.md, "The
	/// trainer's schedule"). Trainers with disjoint selections do not supersede each other.
	#[arg(long, default_value = "*")]
	pub trainer_units: String,

	/// Generations `blyan_generate` and `blyan_subscribeGenerate` run at once, together; a
	/// request beyond them is refused at once with error 4101 (busy). Each uses a core.
	#[arg(long, default_value_t = crate::blyan_rpc::DEFAULT_GENERATE_CONCURRENCY)]
	pub generate_concurrency: usize,

	/// Do not serve `blyan_generate` and `blyan_subscribeGenerate` (for example on a public
	/// RPC node that should not spend its CPU on inference).
	#[arg(long)]
	pub no_generate_rpc: bool,

	/// Test instrument of the end-to-end tests: this node's engine cheats in one way
	/// (docs/pol.md, "Threats"). Only in binaries built with `--features adversary`.
	#[cfg(feature = "adversary")]
	#[arg(long, value_enum, hide = true)]
	pub adversary: Option<crate::engine::adversary::Cheat>,
}

impl Cli {
	/// The engine's hooks: a cheat when `--adversary` asked for one, honest otherwise.
	pub fn adversary(&self) -> std::sync::Arc<dyn crate::engine::Adversary> {
		#[cfg(feature = "adversary")]
		if let Some(cheat) = self.adversary {
			log::warn!(
				target: crate::engine::LOG_TARGET,
				"ADVERSARY MODE {cheat:?}: this node's engine cheats (test instrument)"
			);
			return std::sync::Arc::new(cheat);
		}
		std::sync::Arc::new(crate::engine::Honest)
	}
}

/// The subcommands of `blyan-node`.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management: generate, inspect and insert keys into the node's keystore.
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Build a chain specification (plain or `--raw`) and print it to stdout.
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Validate blocks.
	CheckBlock(sc_cli::CheckBlockCmd),

	/// Export blocks.
	ExportBlocks(sc_cli::ExportBlocksCmd),

	/// Export the state of a given block into a chain spec.
	ExportState(sc_cli::ExportStateCmd),

	/// Import blocks.
	ImportBlocks(sc_cli::ImportBlocksCmd),

	/// Remove the whole chain database.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Revert the chain to a previous state.
	Revert(sc_cli::RevertCmd),

	/// Print the database metadata (best, finalized, genesis hash).
	ChainInfo(sc_cli::ChainInfoCmd),

	/// Write every Debian `fortunes` topic as a dataset ready to submit (`datasets.json` and
	/// one text file per topic): training samples only, e-mail addresses and phone numbers
	/// scrubbed. Used by `scripts/learn.sh`.
	ExportCorpus(crate::corpus::ExportCorpusCmd),

	/// Benchmarks: pallet weights, block execution, the machine.
	#[cfg(feature = "runtime-benchmarks")]
	#[command(subcommand)]
	Benchmark(frame_benchmarking_cli::BenchmarkCmd),

	/// Benchmarks (not compiled in: rebuild with `--features runtime-benchmarks`).
	#[cfg(not(feature = "runtime-benchmarks"))]
	Benchmark {
		/// Ignored arguments.
		#[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
		args: Vec<String>,
	},
}
