//! `blyan-node`: the Blyan full node (Aura authoring, GRANDPA finality, ParityDB).

#![warn(missing_docs)]

mod blyan_rpc;
mod chain;
mod chain_spec;
mod cli;
mod command;
mod corpus;
mod engine;
mod genesis;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
