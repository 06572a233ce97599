//! # blyan-moe — Blyan's native Mixture-of-Experts engine
//!
//! A byte-level decoder-only transformer with sparse MoE feed-forward layers, on candle and
//! the CPU, built so that every number the chain relies on can be recomputed exactly by
//! every validator. The runtime never links this crate; the node does.
//!
//! ## Overview
//! - [`Config`], [`model::Model`]: the model; experts come from an [`model::ExpertSource`].
//! - [`units`]: the model cut into units (`backbone`, `layer{l}.router`,
//!   `layer{l}.expert{e}`), each a safetensors payload hashed as a blake3 Merkle root over
//!   4 MiB tiles ([`blyan_primitives::payload_root`]).
//! - [`store`]: content-addressed payload stores, [`store::ModelIndex`] (`model.json`), and
//!   the byte-bounded LRU cache that selective inference loads experts through.
//! - [`data`]: fortune-format and plain-text corpora, content roots, the validation split and
//!   deterministic batches.
//! - [`train`]: partial mining with AdamW, checkpoints every K steps, the PoDL
//!   [`train::Manifest`], and [`train::replay_segment`].
//! - [`eval`]: validation nats per byte, summed in f64 in a fixed order.
//! - [`generate`]: sampling with lazily loaded experts, reporting the units used.
//!
//! ## Determinism
//! All randomness comes from seeded ChaCha8 streams ([`rng`]). The model is built from
//! candle primitives whose CPU kernels do not change their reduction order with the thread
//! count, so training, replay and evaluation are bitwise identical for 1 or N threads on one
//! machine (`tests/determinism.rs`). Across CPU models, gemm may pick other kernels; see
//! `docs/engine.md` for the tolerance policy.
//!
//! ```no_run
//! use blyan_moe::{Config, model::init_weights, store::{DirStore, ModelIndex}};
//! let cfg = Config::tiny();
//! let store = DirStore::open("blyan-data/store")?;
//! let index = ModelIndex::save_weights(&cfg, &init_weights(&cfg, 42)?, &store)?;
//! println!("backbone = {}", index.units["backbone"]);
//! # Ok::<(), blyan_moe::Error>(())
//! ```
#![deny(missing_docs)]

pub mod audit;
mod config;
pub mod data;
mod error;
pub mod eval;
pub mod fingerprint;
pub mod generate;
pub mod model;
pub mod optim;
pub mod rng;
pub mod store;
pub mod train;
pub mod units;

pub use config::Config;
pub use error::{Error, Result};
