//! Model configuration (the engine config a Chain A model spec carries).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Shape of a Blyan MoE language model. Field names follow Mixtral's `config.json`
/// (`candle-transformers/src/models/mixtral.rs`), so the hyper-parameters read the same way.
///
/// The model is byte-level: `vocab_size` is 256 and one token is one byte, so losses per
/// token are losses per byte (nats/byte).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
	/// Vocabulary size; 256 for the byte-level model.
	pub vocab_size: usize,
	/// Model width `d_model`.
	pub hidden_size: usize,
	/// Number of decoder layers.
	pub num_hidden_layers: usize,
	/// Attention heads; `hidden_size` must be a multiple of it and the head size even (RoPE).
	pub num_attention_heads: usize,
	/// Longest context, in tokens (bytes).
	pub max_position_embeddings: usize,
	/// Experts per MoE layer, `E`.
	pub num_local_experts: usize,
	/// Experts each token is routed to, top-`k` (`1 ≤ k ≤ E`).
	pub num_experts_per_tok: usize,
	/// Hidden size of one SwiGLU expert.
	pub intermediate_size: usize,
	/// Epsilon of RMSNorm.
	pub rms_norm_eps: f64,
	/// RoPE base frequency θ (Su et al. 2021).
	pub rope_theta: f64,
	/// Weight α of the Switch-Transformer load-balancing loss (Fedus et al. 2021, eq. 4).
	pub router_aux_loss_coef: f64,
}

impl Default for Config {
	fn default() -> Self {
		Self::tiny()
	}
}

impl Config {
	/// The default Blyan model, small enough to train on 2 CPU cores: d_model 128, 4 layers,
	/// 4 heads, context 128, 8 experts per layer, top-2, expert hidden size 256
	/// (≈ 3.4 M parameters, 393 KiB per expert unit).
	pub fn tiny() -> Self {
		Self {
			vocab_size: 256,
			hidden_size: 128,
			num_hidden_layers: 4,
			num_attention_heads: 4,
			max_position_embeddings: 128,
			num_local_experts: 8,
			num_experts_per_tok: 2,
			intermediate_size: 256,
			rms_norm_eps: 1e-5,
			rope_theta: 10_000.0,
			router_aux_loss_coef: 0.01,
		}
	}

	/// A very small model for unit tests: d_model 32, 2 layers, 4 experts, top-2.
	pub fn test() -> Self {
		Self {
			vocab_size: 256,
			hidden_size: 32,
			num_hidden_layers: 2,
			num_attention_heads: 2,
			max_position_embeddings: 64,
			num_local_experts: 4,
			num_experts_per_tok: 2,
			intermediate_size: 48,
			rms_norm_eps: 1e-5,
			rope_theta: 10_000.0,
			router_aux_loss_coef: 0.01,
		}
	}

	/// Size of one attention head.
	pub fn head_dim(&self) -> usize {
		self.hidden_size / self.num_attention_heads.max(1)
	}

	/// Checks every invariant the model relies on.
	///
	/// Errors: [`Error::InvalidConfig`] naming the first broken rule.
	pub fn validate(&self) -> Result<()> {
		let bad = |m: &str| Err(Error::InvalidConfig(m.to_string()));
		if self.vocab_size != 256 {
			return bad("vocab_size must be 256 (byte-level model)");
		}
		if self.hidden_size == 0 || self.num_hidden_layers == 0 || self.intermediate_size == 0 {
			return bad("hidden_size, num_hidden_layers and intermediate_size must be > 0");
		}
		if self.num_attention_heads == 0 || self.hidden_size % self.num_attention_heads != 0 {
			return bad("hidden_size must be a positive multiple of num_attention_heads");
		}
		if self.head_dim() % 2 != 0 {
			return bad("the head size must be even for RoPE");
		}
		if self.max_position_embeddings < 2 {
			return bad("max_position_embeddings must be at least 2");
		}
		if self.num_local_experts == 0
			|| self.num_experts_per_tok == 0
			|| self.num_experts_per_tok > self.num_local_experts
		{
			return bad("need 1 <= num_experts_per_tok <= num_local_experts");
		}
		if !(self.rms_norm_eps > 0.0)
			|| !(self.rope_theta > 0.0)
			|| !(self.router_aux_loss_coef >= 0.0)
		{
			return bad("rms_norm_eps and rope_theta must be > 0, router_aux_loss_coef >= 0");
		}
		Ok(())
	}
}
