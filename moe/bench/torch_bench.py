#!/usr/bin/env python3
"""PyTorch CPU baseline for the Blyan candle MoE engine (crate `moe/`).

Mirrors `moe/src/model.rs` with `Config::tiny()` in shapes and ops (f32, CPU):
byte vocab 256, d_model 128, 4 layers, 4 heads (head_dim 32), context 128,
8 experts per layer, top-2, SwiGLU expert hidden 256, RMSNorm eps 1e-5,
RoPE theta 10000 (rotate_half / non-interleaved, as HF Llama/Mixtral), no biases.

Measures
  * training throughput: batch 16 x seq_len 64, loss = CE + 0.01 * aux, AdamW
    (lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 0.01); 3 warm-up + 20 timed steps.
  * inference throughput: forward only under torch.inference_mode(), batch 16 x
    seq_len 128; 3 warm-up + 20 timed passes.

Set up torch with `bash moe/bench/setup_torch.sh`, then run e.g.
    ~/.cache/blyan/torch-venv/bin/python moe/bench/torch_bench.py --threads 2
"""

import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 256
D_MODEL = 128
N_LAYERS = 4
N_HEADS = 4
HEAD_DIM = D_MODEL // N_HEADS
MAX_POS = 128
N_EXPERTS = 8
TOP_K = 2
D_FF = 256
RMS_EPS = 1e-5
ROPE_THETA = 10000.0
AUX_COEF = 0.01


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=RMS_EPS):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # Same as candle_nn::ops::rms_norm_slow.
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Rotary(nn.Module):
    def __init__(self):
        super().__init__()
        inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.float32) / HEAD_DIM))
        t = torch.arange(MAX_POS, dtype=torch.float32)
        freqs = torch.outer(t, inv_freq)  # [MAX_POS, HEAD_DIM / 2]
        emb = torch.cat((freqs, freqs), dim=-1)  # [MAX_POS, HEAD_DIM]
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)

    def forward(self, q, k):
        t = q.shape[-2]
        cos, sin = self.cos[:t], self.sin[:t]
        return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(D_MODEL, D_MODEL, bias=False)
        self.k_proj = nn.Linear(D_MODEL, D_MODEL, bias=False)
        self.v_proj = nn.Linear(D_MODEL, D_MODEL, bias=False)
        self.o_proj = nn.Linear(D_MODEL, D_MODEL, bias=False)

    def forward(self, x, rotary, mask):
        b, t, d = x.shape

        def heads(y):
            return y.view(b, t, N_HEADS, HEAD_DIM).transpose(1, 2)  # [b, h, t, hd]

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        q, k = rotary(q, k)
        # Explicit matmul-softmax-matmul, like the candle code. F.scaled_dot_product_attention
        # (fused / flash-style kernel) would be faster, but would not be a like-for-like baseline.
        att = (q @ k.transpose(-2, -1)) / math.sqrt(HEAD_DIM) + mask  # [b, h, t, t]
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        return self.o_proj(y)


class Expert(nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = nn.Linear(D_MODEL, D_FF, bias=False)
        self.w3 = nn.Linear(D_MODEL, D_FF, bias=False)
        self.w2 = nn.Linear(D_FF, D_MODEL, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class MoE(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = nn.Linear(D_MODEL, N_EXPERTS, bias=False)
        self.experts = nn.ModuleList(Expert() for _ in range(N_EXPERTS))

    def forward(self, x):
        # x: [n, d]
        n = x.shape[0]
        probs = torch.softmax(self.gate(x), dim=-1)  # [n, E]
        w, idx = torch.topk(probs, TOP_K, dim=-1)  # [n, k]; w is differentiable -> router grads
        w = w / w.sum(-1, keepdim=True)
        out = torch.zeros_like(x)
        for e in range(N_EXPERTS):
            tok, slot = torch.where(idx == e)  # token order, like candle's tokens_of
            if tok.numel() == 0:
                continue
            y = self.experts[e](x[tok]) * w[tok, slot].unsqueeze(1)
            out = out.index_add(0, tok, y)
        # Switch-Transformer load balancing: E * sum_e f_e * P_e (f_e without grad).
        with torch.no_grad():
            f = torch.bincount(idx.flatten(), minlength=N_EXPERTS).to(x.dtype) / (n * TOP_K)
        aux = N_EXPERTS * (f * probs.mean(0)).sum()
        return out, aux


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm = RMSNorm(D_MODEL)
        self.self_attn = Attention()
        self.post_attention_layernorm = RMSNorm(D_MODEL)
        self.moe = MoE()

    def forward(self, x, rotary, mask):
        x = x + self.self_attn(self.input_layernorm(x), rotary, mask)
        b, t, d = x.shape
        y, aux = self.moe(self.post_attention_layernorm(x).reshape(b * t, d))
        return x + y.view(b, t, d), aux


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, D_MODEL)
        self.layers = nn.ModuleList(Layer() for _ in range(N_LAYERS))
        self.norm = RMSNorm(D_MODEL)
        self.lm_head = nn.Linear(D_MODEL, VOCAB, bias=False)
        self.rotary = Rotary()

    def forward(self, ids):
        t = ids.shape[1]
        mask = torch.full((t, t), float("-inf")).triu(1)  # 0 on/below diagonal, -inf above
        x = self.embed_tokens(ids)
        auxes = []
        for layer in self.layers:
            x, aux = layer(x, self.rotary, mask)
            auxes.append(aux)
        logits = self.lm_head(self.norm(x))
        return logits, torch.stack(auxes).mean()


def bench_train(model, batch=16, seq=64, warmup=3, steps=20):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    g = torch.Generator().manual_seed(1)

    def step():
        ids = torch.randint(0, 256, (batch, seq), generator=g)
        targets = torch.randint(0, 256, (batch, seq), generator=g)
        logits, aux = model(ids)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1)) + AUX_COEF * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    model.train()
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        last = step()
    secs = time.perf_counter() - t0
    return batch * seq * steps / secs, secs, last


def bench_infer(model, batch=16, seq=128, warmup=3, steps=20):
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 256, (batch, seq), generator=g)
    model.eval()
    with torch.inference_mode():
        for _ in range(warmup):
            model(ids)
        t0 = time.perf_counter()
        for _ in range(steps):
            logits, _ = model(ids)
            float(logits[0, 0, 0])  # force completion
        secs = time.perf_counter() - t0
    return batch * seq * steps / secs, secs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="also print one JSON line with the results")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    model = Model()
    n_params = sum(p.numel() for p in model.parameters())

    train_tps, train_secs, last_loss = bench_train(model)
    infer_tps, infer_secs = bench_infer(model)

    print(f"torch version: {torch.__version__}")
    print(f"threads: {torch.get_num_threads()} (interop {torch.get_num_interop_threads()})")
    print(f"params: {n_params}")
    print(f"train: 20 steps of 16x64 in {train_secs:.3f} s (last loss {last_loss:.4f})")
    print(f"infer: 20 passes of 16x128 in {infer_secs:.3f} s")
    print(f"torch train tokens/s: {train_tps:.1f}")
    print(f"torch infer tokens/s: {infer_tps:.1f}")
    if args.json:
        print(json.dumps({
            "torch_version": torch.__version__,
            "threads": torch.get_num_threads(),
            "params": n_params,
            "train_tokens_per_s": train_tps,
            "train_seconds": train_secs,
            "infer_tokens_per_s": infer_tps,
            "infer_seconds": infer_secs,
        }))


if __name__ == "__main__":
    main()
