//! What the engine's matmul computes, element by element, and so what another CPU kind would
//! compute (docs/engine.md "Determinism across CPU kinds").
//!
//! candle's CPU matmul is gemm. On x86 with FMA, gemm's kernels compute each output element as
//! a fused multiply-add chain over k in order, one chain per `kc`-deep block, and add the
//! blocks in order. These tests check that model bit for bit against candle's result, then use
//! it to measure what the alternatives would give:
//! - upstream gemm on a 48 KiB 12-way L1 (Intel Ice Lake and later) uses kc = 1 024: one chain
//!   for k = 1 024 (vendor/README.md; our patched copy uses 512 on every machine);
//! - gemm's scalar kernels (x86 without FMA, or any architecture gemm has no kernels for)
//!   round every product before adding it (`a * b + c`, gemm-f32 `microkernel.rs`).
//!
//! The first two tests fail on any machine where the consensus kernels are not what runs.

use candle_core::{Device, Tensor};

/// Deterministic values in [−1, 1) (xorshift64*).
fn values(n: usize, seed: u64) -> Vec<f32> {
	let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
	(0..n)
		.map(|_| {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40; // 24 bits
			r as f32 / (1u64 << 23) as f32 - 1.0
		})
		.collect()
}

/// `a` `[m, k]` times `b` `[k, n]` through candle, row-major `[m, n]`.
fn candle_matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
	let a = Tensor::from_slice(a, (m, k), &Device::Cpu).unwrap();
	let b = Tensor::from_slice(b, (k, n), &Device::Cpu).unwrap();
	a.matmul(&b).unwrap().flatten_all().unwrap().to_vec1().unwrap()
}

/// How gemm splits the k sum of an `[m, k] × [k, n]` product into blocks, given the block
/// depth `kc` that `gemm_common::cache::kernel_params` would choose (512 with our patch, 1 024
/// upstream on a 48 KiB 12-way L1): products with `m ≤ 64` and `n ≤ 64` skip
/// `kernel_params` and always use blocks of `min(k, 512)`, the last one shorter
/// (gemm-common `gemm.rs`); larger ones split k into `⌈k / kc⌉` blocks of equal depth
/// `⌈k / blocks⌉` (`cache.rs`). Returns the depth of all but the last block.
fn block_depth(m: usize, n: usize, k: usize, kc: usize) -> usize {
	if m <= 64 && n <= 64 {
		k.min(512)
	} else {
		let kc = kc.min(k);
		k.div_ceil(k.div_ceil(kc))
	}
}

/// The model of one output element: blocks of `depth` terms, each a chain
/// `acc = a·b + acc` (fused when `fused`, else rounded twice) from 0, blocks added in order.
fn element(
	a: &[f32],
	b: &[f32],
	(i, j): (usize, usize),
	(k, n): (usize, usize),
	depth: usize,
	fused: bool,
) -> f32 {
	let mut dst = 0.0f32;
	let mut start = 0;
	while start < k {
		let end = (start + depth).min(k);
		let mut acc = 0.0f32;
		for t in start..end {
			let (x, y) = (a[i * k + t], b[t * n + j]);
			acc = if fused { x.mul_add(y, acc) } else { x * y + acc };
		}
		dst = if start == 0 { acc } else { dst + acc };
		start = end;
	}
	dst
}

/// Number of elements of the `[m, n]` product whose model with blocks of `depth` (fused or
/// not) differs in any bit from `got`.
fn differing(
	got: &[f32],
	a: &[f32],
	b: &[f32],
	(m, k, n): (usize, usize, usize),
	depth: usize,
	fused: bool,
) -> usize {
	let mut count = 0;
	for i in 0..m {
		for j in 0..n {
			if element(a, b, (i, j), (k, n), depth, fused).to_bits() != got[i * n + j].to_bits() {
				count += 1;
			}
		}
	}
	count
}

#[test]
fn products_of_up_to_512_terms_are_one_fused_chain() {
	for (m, k, n) in [(48, 500, 40), (64, 512, 33), (17, 96, 128), (128, 512, 96), (300, 64, 256)] {
		let (a, b) = (values(m * k, 1), values(k * n, 2));
		let got = candle_matmul(&a, &b, m, k, n);
		assert_eq!(differing(&got, &a, &b, (m, k, n), k, true), 0, "m={m} k={k} n={n}");
		// gemm's scalar kernels (no FMA) would round every product: measured here.
		let unfused = differing(&got, &a, &b, (m, k, n), k, false);
		eprintln!("{m}x{k}x{n}: unfused chains differ in {unfused} of {} elements", m * n);
		assert!(unfused > 0, "rounding each product changes some sums");
	}
}

#[test]
fn deeper_products_are_fused_chains_of_blocks_at_most_512_deep_on_every_machine() {
	for (m, k, n) in
		[(48, 1000, 40), (128, 1024, 96), (96, 1000, 72), (256, 1024, 128), (80, 2100, 130)]
	{
		let (a, b) = (values(m * k, 3), values(k * n, 4));
		let got = candle_matmul(&a, &b, m, k, n);
		let depth = block_depth(m, n, k, 512);
		assert_eq!(
			differing(&got, &a, &b, (m, k, n), depth, true),
			0,
			"{m}x{k}x{n}: not blocks of {depth} (is the gemm-common patch in effect?)"
		);
		if m <= 64 && n <= 64 {
			continue; // small products never consult the cache geometry
		}
		// What upstream gemm computes on a 48 KiB 12-way L1 (kc = 1 024): measured here.
		let upstream = block_depth(m, n, k, 1024);
		let other = differing(&got, &a, &b, (m, k, n), upstream, true);
		eprintln!(
			"{m}x{k}x{n}: blocks of {upstream} instead of {depth} would differ in {other} of {} \
			 elements",
			m * n
		);
		assert!(other > 0, "the block depth changes some sums");
	}
}
