//! Spawns `local.toml` (three Blyan validators on loopback) with zombienet-sdk's native
//! provider, waits until every node has finalised `--blocks` blocks (Prometheus
//! `block_height{status="finalized"}`), prints each node's RPC address and exits (the network
//! is torn down on drop). Pass `--keep` to leave it running until Ctrl-C.

use std::time::Duration;
use zombienet_sdk::{NetworkConfig, NetworkConfigExt};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	let args: Vec<String> = std::env::args().collect();
	let keep = args.iter().any(|a| a == "--keep");
	let blocks: f64 = args
		.iter()
		.position(|a| a == "--blocks")
		.and_then(|i| args.get(i + 1))
		.map(|s| s.parse())
		.transpose()?
		.unwrap_or(3.0);
	let config_path = concat!(env!("CARGO_MANIFEST_DIR"), "/local.toml");
	let config = NetworkConfig::load_from_toml(config_path)?;
	eprintln!("spawning {config_path} (native provider)…");
	let network = config.spawn_native().await?;
	for node in network.nodes() {
		eprintln!("{}: {}", node.name(), node.ws_uri());
	}
	for node in network.nodes() {
		node.wait_metric_with_timeout(
			"block_height{status=\"finalized\"}",
			|h| h >= blocks,
			300u64,
		)
		.await?;
		let best = node.reports("block_height{status=\"best\"}").await?;
		let finalized = node.reports("block_height{status=\"finalized\"}").await?;
		println!("{}: best #{best}, finalised #{finalized}", node.name());
	}
	println!("all three validators finalise");
	if keep {
		eprintln!("running; Ctrl-C to stop");
		loop {
			tokio::time::sleep(Duration::from_secs(3600)).await;
		}
	}
	Ok(())
}
