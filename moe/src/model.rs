//! The Blyan MoE language model: a byte-level decoder-only transformer whose feed-forward
//! layers are sparse Mixtures of Experts.
//!
//! Architecture (Mixtral, Jiang et al. 2024, without sliding windows or GQA):
//! RMSNorm → causal self-attention with RoPE → residual → RMSNorm → sparse MoE
//! (softmax router → per-token top-k → renormalised weights → SwiGLU experts) → residual,
//! then a final RMSNorm and an LM head over the 256 byte values.
//! Reference implementation: `candle-transformers/src/models/mixtral.rs`.
//!
//! Unlike that reference, the router stays on the autograd graph: the top-k *indices* are
//! picked on a detached copy, but the weights are `gather`ed from the differentiable softmax,
//! so the router learns from the language-model loss and from the Switch-Transformer
//! load-balancing loss (Fedus et al. 2021, eq. 4).
//!
//! Experts are not owned by [`Model`]: the forward pass asks an [`ExpertSource`] for each
//! expert the router selected, and only for those. Training uses [`ResidentExperts`]; the
//! inference path fetches them lazily from a content store (`crate::store::LazyExperts`).
//!
//! All operations are composed from candle primitives that have a backward pass and a fixed
//! reduction order (no fused kernels), so training, evaluation and replay are bitwise
//! deterministic on one CPU for any thread count.

use std::collections::{BTreeMap, HashMap};

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Embedding, Linear, VarBuilder};

use crate::rng::Rng;
use crate::units::UnitId;
use crate::{Config, Result};

/// How a tensor is initialised by [`init_weights`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
	/// All ones (RMSNorm gains).
	Ones,
	/// Uniform in `[-bound, bound)`.
	Uniform(f32),
}

/// One tensor of the model: its checkpoint name, shape, the unit it belongs to and its
/// initialisation.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
	/// Name in the safetensors payloads, e.g. `layers.0.block_sparse_moe.experts.3.w1.weight`.
	pub name: String,
	/// Shape, row-major.
	pub shape: Vec<usize>,
	/// Unit that carries it.
	pub unit: UnitId,
	/// Initialisation.
	pub init: Init,
}

/// Name prefix of layer `l`'s MoE block.
fn moe_prefix(l: usize) -> String {
	format!("layers.{l}.block_sparse_moe")
}

/// Every tensor of a model with config `cfg`, sorted by name.
///
/// Initial bounds follow PyTorch's defaults: `1/√fan_in` for linear layers
/// (`nn.Linear`'s Kaiming-uniform with a = √5) and `√3` (unit variance) for the embedding.
pub fn tensor_layout(cfg: &Config) -> Vec<TensorSpec> {
	let (d, h, e, v) =
		(cfg.hidden_size, cfg.intermediate_size, cfg.num_local_experts, cfg.vocab_size);
	let lin = |fan_in: usize| Init::Uniform(1.0 / (fan_in as f32).sqrt());
	let mut out = Vec::new();
	let mut push = |name: String, shape: Vec<usize>, unit: UnitId, init: Init| {
		out.push(TensorSpec { name, shape, unit, init })
	};
	push("embed_tokens.weight".into(), vec![v, d], UnitId::Backbone, Init::Uniform(3f32.sqrt()));
	push("norm.weight".into(), vec![d], UnitId::Backbone, Init::Ones);
	push("lm_head.weight".into(), vec![v, d], UnitId::Backbone, lin(d));
	for l in 0..cfg.num_hidden_layers {
		let p = format!("layers.{l}");
		push(format!("{p}.input_layernorm.weight"), vec![d], UnitId::Backbone, Init::Ones);
		push(format!("{p}.post_attention_layernorm.weight"), vec![d], UnitId::Backbone, Init::Ones);
		for proj in ["q_proj", "k_proj", "v_proj", "o_proj"] {
			push(format!("{p}.self_attn.{proj}.weight"), vec![d, d], UnitId::Backbone, lin(d));
		}
		let m = moe_prefix(l);
		push(format!("{m}.gate.weight"), vec![e, d], UnitId::Router { layer: l }, lin(d));
		for x in 0..e {
			let unit = UnitId::Expert { layer: l, expert: x };
			push(format!("{m}.experts.{x}.w1.weight"), vec![h, d], unit, lin(d));
			push(format!("{m}.experts.{x}.w2.weight"), vec![d, h], unit, lin(h));
			push(format!("{m}.experts.{x}.w3.weight"), vec![h, d], unit, lin(d));
		}
	}
	out.sort_by(|a, b| a.name.cmp(&b.name));
	out
}

/// Fresh weights for every tensor of the layout, drawn from the seeded stream
/// `Rng::derive("init/<name>", seed, 0)` of each tensor, so they do not depend on the order
/// in which tensors are created. Shapes as in [`tensor_layout`]; dtype F32 on the CPU.
pub fn init_weights(cfg: &Config, seed: u64) -> Result<BTreeMap<String, Tensor>> {
	cfg.validate()?;
	let mut out = BTreeMap::new();
	for spec in tensor_layout(cfg) {
		let n: usize = spec.shape.iter().product();
		let data: Vec<f32> = match spec.init {
			Init::Ones => vec![1.0; n],
			Init::Uniform(b) => {
				let mut rng = Rng::derive(&format!("init/{}", spec.name), seed, 0);
				(0..n).map(|_| rng.symmetric_f32(b)).collect()
			},
		};
		out.insert(spec.name.clone(), Tensor::from_vec(data, spec.shape.as_slice(), &Device::Cpu)?);
	}
	Ok(out)
}

/// RMSNorm (Zhang & Sennrich 2019), composed from differentiable primitives.
#[derive(Clone, Debug)]
struct RmsNorm {
	weight: Tensor,
	eps: f32,
}

impl RmsNorm {
	fn new(size: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
		Ok(Self { weight: vb.get(size, "weight")?, eps: eps as f32 })
	}
}

impl RmsNorm {
	/// candle's fused RMSNorm kernel (one pass per row), for inference: the same function as
	/// [`Module::forward`]'s composed ops, rounded differently.
	fn forward_fused(&self, xs: &Tensor) -> Result<Tensor> {
		Ok(candle_nn::ops::rms_norm(xs, &self.weight, self.eps)?)
	}
}

impl Module for RmsNorm {
	fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
		candle_nn::ops::rms_norm_slow(xs, &self.weight, self.eps)
	}
}

/// Rotary position embedding tables (Su et al. 2021): `cos`, `sin` of shape
/// `[max_position_embeddings, head_dim / 2]`.
#[derive(Clone, Debug)]
struct RotaryEmbedding {
	sin: Tensor,
	cos: Tensor,
}

impl RotaryEmbedding {
	fn new(cfg: &Config, dev: &Device) -> Result<Self> {
		let dim = cfg.head_dim();
		let max_seq_len = cfg.max_position_embeddings;
		// PyTorch: inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
		let inv_freq: Vec<f32> = (0..dim)
			.step_by(2)
			.map(|i| 1f32 / cfg.rope_theta.powf(i as f64 / dim as f64) as f32)
			.collect();
		let inv_freq_len = inv_freq.len();
		let inv_freq = Tensor::from_vec(inv_freq, (1, inv_freq_len), dev)?;
		let t = Tensor::arange(0u32, max_seq_len as u32, dev)?
			.to_dtype(DType::F32)?
			.reshape((max_seq_len, 1))?;
		let freqs = t.matmul(&inv_freq)?; // [max_seq_len, dim / 2]
		Ok(Self { sin: freqs.sin()?, cos: freqs.cos()? })
	}

	/// Rotates `q` and `k`, both `[b, heads, seq_len, head_dim]`.
	fn apply(&self, q: &Tensor, k: &Tensor) -> Result<(Tensor, Tensor)> {
		let q = candle_nn::rotary_emb::rope_slow(q, &self.cos, &self.sin)?;
		let k = candle_nn::rotary_emb::rope_slow(k, &self.cos, &self.sin)?;
		Ok((q, k))
	}
}

/// Causal multi-head self-attention.
#[derive(Clone, Debug)]
struct Attention {
	q_proj: Linear,
	k_proj: Linear,
	v_proj: Linear,
	o_proj: Linear,
	num_heads: usize,
	head_dim: usize,
}

fn linear_no_bias(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Linear> {
	Ok(Linear::new(vb.get((out_dim, in_dim), "weight")?, None))
}

impl Attention {
	fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
		let d = cfg.hidden_size;
		Ok(Self {
			q_proj: linear_no_bias(d, d, vb.pp("q_proj"))?,
			k_proj: linear_no_bias(d, d, vb.pp("k_proj"))?,
			v_proj: linear_no_bias(d, d, vb.pp("v_proj"))?,
			o_proj: linear_no_bias(d, d, vb.pp("o_proj"))?,
			num_heads: cfg.num_attention_heads,
			head_dim: cfg.head_dim(),
		})
	}

	/// `xs`: `[b, seq_len, d]`, `mask`: `[seq_len, seq_len]` (0 or −∞) → `[b, seq_len, d]`.
	fn forward(&self, xs: &Tensor, rotary: &RotaryEmbedding, mask: &Tensor) -> Result<Tensor> {
		let (b_sz, seq_len, hidden) = xs.dims3()?;
		let (q, k, v) = self.qkv(xs)?;
		let (q, k) = rotary.apply(&q, &k)?;
		let scale = 1f64 / (self.head_dim as f64).sqrt();
		let att = (q.matmul(&k.t()?.contiguous()?)? * scale)?; // [b, heads, seq_len, seq_len]
		let att = att.broadcast_add(mask)?;
		let att = candle_nn::ops::softmax(&att, D::Minus1)?;
		let ys = att.matmul(&v)?; // [b, heads, seq_len, head_dim]
		let ys = ys.transpose(1, 2)?.reshape((b_sz, seq_len, hidden))?;
		Ok(self.o_proj.forward(&ys)?)
	}
}

impl Attention {
	/// The projections of `xs` `[b, seq_len, d]` split into heads: `q`, `k`, `v`, each
	/// `[b, heads, seq_len, head_dim]` (contiguous, before the rotary embedding).
	fn qkv(&self, xs: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
		let (b_sz, seq_len, _) = xs.dims3()?;
		let heads = |t: Tensor| -> candle_core::Result<Tensor> {
			t.reshape((b_sz, seq_len, self.num_heads, self.head_dim))?
				.transpose(1, 2)?
				.contiguous()
		};
		Ok((
			heads(self.q_proj.forward(xs)?)?,
			heads(self.k_proj.forward(xs)?)?,
			heads(self.v_proj.forward(xs)?)?,
		))
	}

	/// Incremental attention for decoding: `xs` `[1, n, d]` are positions `past .. past + n`
	/// (`past` = the cached length); they attend to the cached keys and values and to each
	/// other causally. `cache` holds this layer's rotated keys and values, each
	/// `[1, heads, past, head_dim]`, and grows by `n`. Returns `[1, n, d]`.
	fn forward_cached(
		&self,
		xs: &Tensor,
		rotary: &RotaryEmbedding,
		cache: &mut Option<(Tensor, Tensor)>,
	) -> Result<Tensor> {
		let (b_sz, n, hidden) = xs.dims3()?;
		let past = cache.as_ref().map_or(Ok(0), |(k, _)| k.dim(2))?;
		let (q, k, v) = self.qkv(xs)?;
		let at = RotaryEmbedding {
			cos: rotary.cos.narrow(0, past, n)?,
			sin: rotary.sin.narrow(0, past, n)?,
		};
		let (q, k) = at.apply(&q, &k)?;
		let (k, v) = match cache.take() {
			Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
			None => (k, v),
		};
		let scale = 1f64 / (self.head_dim as f64).sqrt();
		let att = (q.matmul(&k.t()?.contiguous()?)? * scale)?; // [1, heads, n, past + n]
		let att = if n > 1 {
			att.broadcast_add(&offset_causal_mask(n, past, xs.device())?)?
		} else {
			att
		};
		let att = candle_nn::ops::softmax_last_dim(&att)?;
		let ys = att.matmul(&v)?; // [1, heads, n, head_dim]
		*cache = Some((k, v));
		let ys = ys.transpose(1, 2)?.reshape((b_sz, n, hidden))?;
		Ok(self.o_proj.forward(&ys)?)
	}
}

/// `[n, past + n]` additive mask for `n` new positions after `past` cached ones: new position
/// `i` sees every cached position and the new positions `≤ i`.
fn offset_causal_mask(n: usize, past: usize, dev: &Device) -> Result<Tensor> {
	let mask: Vec<f32> = (0..n)
		.flat_map(|i| {
			(0..past + n).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })
		})
		.collect();
	Ok(Tensor::from_vec(mask, (n, past + n), dev)?)
}

/// Keys and values of the positions decoded so far, per layer, for
/// [`Model::forward_cached`]: each layer's `(k, v)` is `[1, heads, len, head_dim]` (keys
/// rotated at their positions). At most `max_position_embeddings` positions: the caller
/// starts a new cache (re-reading a suffix of its text) when it is full.
#[derive(Clone, Debug, Default)]
pub struct KvCache {
	layers: Vec<Option<(Tensor, Tensor)>>,
	len: usize,
}

impl KvCache {
	/// Positions cached.
	pub fn len(&self) -> usize {
		self.len
	}

	/// Whether nothing is cached.
	pub fn is_empty(&self) -> bool {
		self.len == 0
	}
}

/// One SwiGLU expert (Shazeer 2020): `w2(silu(w1 x) ⊙ w3 x)`.
/// `w1`, `w3`: `[intermediate, d]`; `w2`: `[d, intermediate]`.
#[derive(Clone, Debug)]
pub struct Expert {
	w1: Linear,
	w2: Linear,
	w3: Linear,
}

impl Expert {
	/// Builds expert weights from `vb` (prefix `...experts.{e}`).
	pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
		let (d, h) = (cfg.hidden_size, cfg.intermediate_size);
		Ok(Self {
			w1: linear_no_bias(d, h, vb.pp("w1"))?,
			w2: linear_no_bias(h, d, vb.pp("w2"))?,
			w3: linear_no_bias(d, h, vb.pp("w3"))?,
		})
	}

	/// Payload size of this expert's weights, in bytes (F32).
	pub fn byte_len(&self) -> usize {
		[&self.w1, &self.w2, &self.w3].iter().map(|l| l.weight().elem_count() * 4).sum()
	}
}

impl Module for Expert {
	/// `xs`: `[n, d]` → `[n, d]`.
	fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
		let lhs = self.w1.forward(xs)?.silu()?;
		let rhs = self.w3.forward(xs)?;
		self.w2.forward(&(lhs * rhs)?)
	}
}

/// Where the forward pass gets the experts the router picked.
pub trait ExpertSource {
	/// Expert `expert` of layer `layer`. Called at most once per (layer, expert) and forward
	/// pass, and only for experts that at least one token was routed to.
	///
	/// Errors: whatever fetching it raises (missing payload, hash mismatch, bad shape).
	fn expert(&mut self, layer: usize, expert: usize) -> Result<Expert>;
}

/// Every expert held in memory, for training and dense evaluation.
pub struct ResidentExperts {
	experts: Vec<Vec<Expert>>,
}

impl ResidentExperts {
	/// Builds all `num_hidden_layers × num_local_experts` experts from `vb` (model root).
	pub fn new(cfg: &Config, vb: &VarBuilder) -> Result<Self> {
		let mut experts = Vec::with_capacity(cfg.num_hidden_layers);
		for l in 0..cfg.num_hidden_layers {
			let vb_e = vb.pp(moe_prefix(l)).pp("experts");
			let row = (0..cfg.num_local_experts)
				.map(|e| Expert::new(cfg, vb_e.pp(e)))
				.collect::<Result<Vec<_>>>()?;
			experts.push(row);
		}
		Ok(Self { experts })
	}
}

impl ExpertSource for ResidentExperts {
	fn expert(&mut self, layer: usize, expert: usize) -> Result<Expert> {
		self.experts
			.get(layer)
			.and_then(|row| row.get(expert))
			.cloned()
			.ok_or_else(|| crate::Error::UnknownUnit(UnitId::Expert { layer, expert }.to_string()))
	}
}

/// How the MoE feed-forward runs; see [`Model::moe_forward`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoeMode {
	/// Each token runs only its top-k experts (the real model).
	Selective,
	/// Every expert runs on every token and unselected outputs are multiplied by zero
	/// weight: the same result, the cost of a dense model. A baseline for benchmarks.
	Dense,
}

/// What one forward pass returns.
#[derive(Debug)]
pub struct ForwardOutput {
	/// Next-byte logits, `[b, seq_len, 256]`.
	pub logits: Tensor,
	/// Switch-Transformer load-balancing loss averaged over layers (scalar, unweighted:
	/// multiply by [`Config::router_aux_loss_coef`]).
	pub aux_loss: Tensor,
	/// `routed[l][e]`: how many tokens layer `l` sent to expert `e` in this pass.
	pub routed: Vec<Vec<usize>>,
}

/// What one MoE block returns.
pub struct MoeOutput {
	/// `[n, d]`.
	pub ys: Tensor,
	/// Load-balancing loss of this layer (scalar).
	pub aux_loss: Tensor,
	/// Tokens per expert.
	pub routed: Vec<usize>,
}

/// One decoder layer without its experts.
#[derive(Clone, Debug)]
struct DecoderLayer {
	input_layernorm: RmsNorm,
	self_attn: Attention,
	post_attention_layernorm: RmsNorm,
	gate: Linear,
}

/// The model without its experts: embeddings, attention, norms, routers and LM head
/// (the backbone and router units).
#[derive(Clone, Debug)]
pub struct Model {
	embed_tokens: Embedding,
	layers: Vec<DecoderLayer>,
	norm: RmsNorm,
	lm_head: Linear,
	rotary: RotaryEmbedding,
	cfg: Config,
	device: Device,
}

impl Model {
	/// Builds the backbone and routers from `vb` (model root; names as in [`tensor_layout`]).
	///
	/// Errors: a missing tensor or a wrong shape (`candle` error), [`crate::Error::InvalidConfig`].
	pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
		cfg.validate()?;
		let d = cfg.hidden_size;
		let embed_tokens =
			Embedding::new(vb.pp("embed_tokens").get((cfg.vocab_size, d), "weight")?, d);
		let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
		for l in 0..cfg.num_hidden_layers {
			let vb_l = vb.pp(format!("layers.{l}"));
			layers.push(DecoderLayer {
				input_layernorm: RmsNorm::new(d, cfg.rms_norm_eps, vb_l.pp("input_layernorm"))?,
				self_attn: Attention::new(cfg, vb_l.pp("self_attn"))?,
				post_attention_layernorm: RmsNorm::new(
					d,
					cfg.rms_norm_eps,
					vb_l.pp("post_attention_layernorm"),
				)?,
				gate: linear_no_bias(d, cfg.num_local_experts, vb.pp(moe_prefix(l)).pp("gate"))?,
			});
		}
		Ok(Self {
			embed_tokens,
			layers,
			norm: RmsNorm::new(d, cfg.rms_norm_eps, vb.pp("norm"))?,
			lm_head: linear_no_bias(d, cfg.vocab_size, vb.pp("lm_head"))?,
			rotary: RotaryEmbedding::new(cfg, vb.device())?,
			cfg: cfg.clone(),
			device: vb.device().clone(),
		})
	}

	/// The configuration.
	pub fn config(&self) -> &Config {
		&self.cfg
	}

	/// Forward pass over byte ids `[b, seq_len]` (u32, `seq_len ≤ max_position_embeddings`).
	///
	/// Errors: [`crate::Error::InvalidTraining`] when the sequence is longer than the context;
	/// whatever `experts` raises.
	pub fn forward(
		&self,
		ids: &Tensor,
		experts: &mut dyn ExpertSource,
		mode: MoeMode,
	) -> Result<ForwardOutput> {
		let (b_sz, seq_len) = ids.dims2()?;
		if seq_len == 0 || seq_len > self.cfg.max_position_embeddings {
			return Err(crate::Error::InvalidTraining(format!(
				"sequence length {seq_len} must be in 1..={}",
				self.cfg.max_position_embeddings
			)));
		}
		let d = self.cfg.hidden_size;
		let mask = causal_mask(seq_len, &self.device)?;
		let rotary = RotaryEmbedding {
			cos: self.rotary.cos.narrow(0, 0, seq_len)?,
			sin: self.rotary.sin.narrow(0, 0, seq_len)?,
		};
		let mut xs = self.embed_tokens.forward(ids)?; // [b, seq_len, d]
		let mut aux = Vec::with_capacity(self.layers.len());
		let mut routed = Vec::with_capacity(self.layers.len());
		for (l, layer) in self.layers.iter().enumerate() {
			let residual = &xs;
			let h =
				layer.self_attn.forward(&layer.input_layernorm.forward(&xs)?, &rotary, &mask)?;
			let xs_attn = (h + residual)?;
			let h =
				layer.post_attention_layernorm.forward(&xs_attn)?.reshape((b_sz * seq_len, d))?;
			let out = self.moe_forward(l, &h, experts, mode)?;
			xs = (out.ys.reshape((b_sz, seq_len, d))? + xs_attn)?;
			aux.push(out.aux_loss);
			routed.push(out.routed);
		}
		let logits = self.lm_head.forward(&self.norm.forward(&xs)?)?; // [b, seq_len, 256]
		let aux_loss = (Tensor::stack(&aux, 0)?.sum_all()? / self.layers.len() as f64)?;
		Ok(ForwardOutput { logits, aux_loss, routed })
	}

	/// Incremental forward for decoding (inference only, no gradients are used): byte ids
	/// `[1, n]` at positions `cache.len() .. cache.len() + n`, attending to the cached
	/// positions; appends theirs to `cache`. Same function as [`Model::forward`] on the whole
	/// sequence (tested to agree within float rounding, `tests/kv_cache.rs`), at the cost of
	/// `n` positions instead of all of them. Returns the logits `[1, n, 256]`.
	///
	/// Errors: [`crate::Error::InvalidTraining`] when `n` is 0 or the cache would exceed the
	/// context (`max_position_embeddings`); whatever `experts` raises.
	pub fn forward_cached(
		&self,
		ids: &Tensor,
		cache: &mut KvCache,
		experts: &mut dyn ExpertSource,
	) -> Result<Tensor> {
		let (b_sz, n) = ids.dims2()?;
		let ctx = self.cfg.max_position_embeddings;
		if b_sz != 1 || n == 0 || cache.len + n > ctx {
			return Err(crate::Error::InvalidTraining(format!(
				"a cached step takes 1 row of 1..={} new positions ({} cached, {n} new, {b_sz} rows)",
				ctx - cache.len.min(ctx),
				cache.len
			)));
		}
		cache.layers.resize(self.layers.len(), None);
		let d = self.cfg.hidden_size;
		let mut xs = self.embed_tokens.forward(ids)?; // [1, n, d]
		for (l, layer) in self.layers.iter().enumerate() {
			let h = layer.self_attn.forward_cached(
				&layer.input_layernorm.forward_fused(&xs)?,
				&self.rotary,
				&mut cache.layers[l],
			)?;
			let xs_attn = (h + &xs)?;
			let h = layer.post_attention_layernorm.forward_fused(&xs_attn)?.reshape((n, d))?;
			let out = self.moe_forward(l, &h, experts, MoeMode::Selective)?;
			xs = (out.ys.reshape((1, n, d))? + xs_attn)?;
		}
		cache.len += n;
		Ok(self.lm_head.forward(&self.norm.forward_fused(&xs)?)?)
	}

	/// The sparse MoE feed-forward of layer `layer` on `xs`: `[n, d]` → `[n, d]`.
	///
	/// Router: `p = softmax(xs · gateᵀ)` (`[n, E]`); each token takes its top-k experts
	/// (ties: lowest index first), weights `p_sel / Σ p_sel`, and the output is
	/// `Σ_sel w · expert(x)`. Indices are picked on a detached copy; the weights are gathered
	/// from `p`, so the router receives gradients. The load-balancing loss is
	/// `E · Σ_e f_e · P_e` with `f_e` the share of the `n·k` assignments that went to `e` and
	/// `P_e` the mean router probability of `e` (Fedus et al. 2021, eq. 4, for top-k).
	///
	/// Errors: [`crate::Error::UnknownUnit`] for a layer the model does not have; whatever
	/// `experts` raises.
	pub fn moe_forward(
		&self,
		layer: usize,
		xs: &Tensor,
		experts: &mut dyn ExpertSource,
		mode: MoeMode,
	) -> Result<MoeOutput> {
		let gate = &self
			.layers
			.get(layer)
			.ok_or_else(|| crate::Error::UnknownUnit(UnitId::Router { layer }.to_string()))?
			.gate;
		let (n, _d) = xs.dims2()?;
		let (num_experts, k) = (self.cfg.num_local_experts, self.cfg.num_experts_per_tok);
		let router_logits = gate.forward(xs)?; // [n, E]
		let probs = candle_nn::ops::softmax(&router_logits, D::Minus1)?; // [n, E]
		let probs_host: Vec<Vec<f32>> = probs.to_vec2()?;

		// PyTorch (Mixtral): routing_weights, selected_experts = torch.topk(routing_weights, top_k)
		let mut selected = Vec::with_capacity(n * k);
		let mut tokens_of: Vec<Vec<u32>> = vec![Vec::new(); num_experts];
		let mut slots_of: Vec<Vec<u32>> = vec![Vec::new(); num_experts];
		let mut order: Vec<usize> = (0..num_experts).collect();
		for (tok, row) in probs_host.iter().enumerate() {
			order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
			for (slot, &e) in order.iter().take(k).enumerate() {
				selected.push(e as u32);
				tokens_of[e].push(tok as u32);
				slots_of[e].push((tok * k + slot) as u32);
			}
		}
		let selected = Tensor::from_vec(selected, (n, k), &self.device)?;
		let top_p = probs.gather(&selected, 1)?; // [n, k], differentiable
		let top_w = top_p.broadcast_div(&top_p.sum_keepdim(1)?)?.flatten_all()?; // [n * k]

		let routed: Vec<usize> = tokens_of.iter().map(|t| t.len()).collect();
		let mut ys = xs.zeros_like()?;
		match mode {
			MoeMode::Selective => {
				for e in 0..num_experts {
					if tokens_of[e].is_empty() {
						continue;
					}
					let expert = experts.expert(layer, e)?;
					let idx = Tensor::new(tokens_of[e].as_slice(), &self.device)?;
					let w = top_w
						.index_select(&Tensor::new(slots_of[e].as_slice(), &self.device)?, 0)?;
					let x_e = xs.index_select(&idx, 0)?; // [n_e, d]
					let y_e = expert.forward(&x_e)?.broadcast_mul(&w.unsqueeze(1)?)?; // [n_e, d]
					ys = ys.index_add(&idx, &y_e, 0)?;
				}
			},
			MoeMode::Dense => {
				// Scatter the top-k weights into a dense [n, E] matrix, zero elsewhere.
				let mut dense_idx = Vec::with_capacity(n * k);
				for e in 0..num_experts {
					for (&t, &s) in tokens_of[e].iter().zip(&slots_of[e]) {
						dense_idx.push((t as usize * num_experts + e, s));
					}
				}
				dense_idx.sort_unstable();
				let weights = top_w.to_vec1::<f32>()?;
				let mut w_dense = vec![0f32; n * num_experts];
				for (pos, s) in dense_idx {
					w_dense[pos] = weights[s as usize];
				}
				let w_dense = Tensor::from_vec(w_dense, (n, num_experts), &self.device)?;
				for e in 0..num_experts {
					let expert = experts.expert(layer, e)?;
					let y_e = expert.forward(xs)?.broadcast_mul(&w_dense.narrow(1, e, 1)?)?;
					ys = (ys + y_e)?;
				}
			},
		}

		// Switch-Transformer load balancing: E * sum_e f_e * P_e.
		let f: Vec<f32> = routed.iter().map(|&c| c as f32 / (n * k).max(1) as f32).collect();
		let f = Tensor::from_vec(f, num_experts, &self.device)?;
		let p_mean = probs.mean(0)?; // [E]
		let aux_loss = ((p_mean * f)?.sum_all()? * num_experts as f64)?;
		Ok(MoeOutput { ys, aux_loss, routed })
	}
}

/// `[seq_len, seq_len]` additive causal mask: 0 on and below the diagonal, −∞ above.
fn causal_mask(seq_len: usize, dev: &Device) -> Result<Tensor> {
	let mask: Vec<f32> = (0..seq_len)
		.flat_map(|i| (0..seq_len).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
		.collect();
	Ok(Tensor::from_vec(mask, (seq_len, seq_len), dev)?)
}

/// A [`VarBuilder`] over named tensors (the model root), for [`Model::new`] and
/// [`ResidentExperts::new`].
pub fn var_builder(weights: &BTreeMap<String, Tensor>) -> VarBuilder<'static> {
	let map: HashMap<String, Tensor> =
		weights.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
	VarBuilder::from_tensors(map, DType::F32, &Device::Cpu)
}
