//! AdamW with its state in the open.
//!
//! candle-nn's `AdamW` keeps its moments private, but a checkpoint that replay can resume
//! from must hold them. This is the same update, operation for operation, as
//! `candle_nn::optim::AdamW::step` (Loshchilov & Hutter 2019, decoupled weight decay):
//!
//! ```text
//! m ← β1·m + (1−β1)·g            v ← β2·v + (1−β2)·g²
//! m̂ = m / (1−β1ᵗ)                v̂ = v / (1−β2ᵗ)
//! θ ← θ·(1 − lr·λ) − lr · m̂ / (√v̂ + ε)
//! ```

use candle_core::{backprop::GradStore, Tensor, Var};

use crate::Result;

/// AdamW hyper-parameters (PyTorch's defaults but the learning rate).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWParams {
	/// Learning rate.
	pub lr: f64,
	/// β1.
	pub beta1: f64,
	/// β2.
	pub beta2: f64,
	/// ε.
	pub eps: f64,
	/// Decoupled weight decay λ.
	pub weight_decay: f64,
}

impl AdamWParams {
	/// PyTorch's defaults with learning rate `lr`: β = (0.9, 0.999), ε = 1e−8, λ = 0.01.
	pub fn with_lr(lr: f64) -> Self {
		Self { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 }
	}
}

/// One optimised parameter with its moments.
pub struct Slot {
	/// Parameter name.
	pub name: String,
	/// The parameter.
	pub var: Var,
	/// First moment `m`, same shape.
	pub m: Tensor,
	/// Second moment `v`, same shape.
	pub v: Tensor,
}

/// AdamW over named variables.
pub struct AdamW {
	/// Parameters and moments, in name order.
	pub slots: Vec<Slot>,
	/// Steps taken (`t`).
	pub step_t: u64,
	/// Hyper-parameters.
	pub params: AdamWParams,
}

impl AdamW {
	/// Fresh optimiser (zero moments, `t = 0`).
	pub fn new(vars: Vec<(String, Var)>, params: AdamWParams) -> Result<Self> {
		let slots = vars
			.into_iter()
			.map(|(name, var)| {
				let m = var.as_tensor().zeros_like()?;
				let v = var.as_tensor().zeros_like()?;
				Ok(Slot { name, var, m, v })
			})
			.collect::<Result<Vec<_>>>()?;
		Ok(Self { slots, step_t: 0, params })
	}

	/// One update from `grads`; parameters without a gradient are left alone.
	pub fn step(&mut self, grads: &GradStore) -> Result<()> {
		self.step_t += 1;
		let p = self.params;
		let scale_m = 1f64 / (1f64 - p.beta1.powi(self.step_t as i32));
		let scale_v = 1f64 / (1f64 - p.beta2.powi(self.step_t as i32));
		for slot in &mut self.slots {
			let theta = &slot.var;
			let Some(g) = grads.get(theta.as_tensor()) else { continue };
			let next_m = ((&slot.m * p.beta1)? + (g * (1.0 - p.beta1))?)?;
			let next_v = ((&slot.v * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?;
			let m_hat = (&next_m * scale_m)?;
			let v_hat = (&next_v * scale_v)?;
			let next_theta = (theta.as_tensor() * (1f64 - p.lr * p.weight_decay))?;
			let adjusted = (m_hat / (v_hat.sqrt()? + p.eps)?)?;
			let next_theta = (next_theta - (adjusted * p.lr)?)?;
			slot.m = next_m;
			slot.v = next_v;
			theta.set(&next_theta)?;
		}
		Ok(())
	}
}
