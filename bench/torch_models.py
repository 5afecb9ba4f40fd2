"""The anchor of bench/models.ts: the same two preset models in PyTorch, timed the
same way (training step = forward + cross-entropy + backward + AdamW; decode = one
token per sequence per step through a preallocated KV cache, greedy).

    /usr/bin/python3 bench/torch_models.py '<json spec>'

The spec (written by bench/models.ts or bench/train.ts) gives the model configs and
the run sizes (an entry may carry its own batch, seq, AdamW settings and a global
gradient-norm clip, as bench/train.ts's pretraining runs do);
prints one JSON line with tokens/s. Threads come from the environment
(torch.set_num_threads(R1TS_TORCH_THREADS)); the caller also sets
OMP_NUM_THREADS / OPENBLAS_NUM_THREADS and OMP_WAIT_POLICY=PASSIVE.
Attention is written out (softmax(q·kᵀ·scale + causal mask)·v): Debian's PyTorch
may predate F.scaled_dot_product_attention; when it exists it is used.
"""
import json, math, os, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

spec = json.loads(sys.argv[1])
torch.set_num_threads(int(os.environ.get("R1TS_TORCH_THREADS", "1")))
torch.manual_seed(0)
SDPA = getattr(F, "scaled_dot_product_attention", None)


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


def rope_tables(dim, n, theta):
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2).float() / dim))
    ang = torch.outer(torch.arange(n).float(), freqs)
    return ang.cos(), ang.sin()


def rope(x, cos, sin, interleaved):
    # x [B, T, H, D]; cos/sin [T, D/2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    if interleaved:
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack([x1 * c - x2 * s, x1 * s + x2 * c], -1).flatten(-2)
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], -1)


def attend(q, k, v, scale, q_off):
    # q [B, Tq, H, D], k/v [B, Tk, H, *]
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    Tq, Tk = q.shape[2], k.shape[2]
    if SDPA is not None and Tq == Tk:
        o = SDPA(q, k, v, is_causal=True, scale=scale) if "scale" in SDPA.__doc__ else SDPA(q * (scale * math.sqrt(q.shape[-1])), k, v, is_causal=True)
    else:
        s = (q @ k.transpose(-1, -2)) * scale
        if Tq > 1:
            i = torch.arange(Tq)[:, None] + q_off
            j = torch.arange(Tk)[None, :]
            s = s.masked_fill(j > i, float("-inf"))
        o = s.softmax(-1) @ v
    return o.transpose(1, 2)


class MLP(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.w1, self.w2, self.w3 = nn.Linear(d, f, bias=False), nn.Linear(f, d, bias=False), nn.Linear(d, f, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class GQA(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.H, self.D = c["num_attention_heads"], c["hidden_size"] // c["num_attention_heads"]
        d = c["hidden_size"]
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(d, d, bias=False) for _ in range(4))

    def forward(self, x, cos, sin, cache, start):
        B, T, _ = x.shape
        q = rope(self.wq(x).view(B, T, self.H, self.D), cos, sin, False)
        k = rope(self.wk(x).view(B, T, self.H, self.D), cos, sin, False)
        v = self.wv(x).view(B, T, self.H, self.D)
        if cache is not None:
            cache[0][:, start:start + T] = k
            cache[1][:, start:start + T] = v
            k, v = cache[0][:, :start + T], cache[1][:, :start + T]
        return self.wo(attend(q, k, v, self.D ** -0.5, start).reshape(B, T, -1))


class MLA(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.H = c["hidden_size"], c["num_attention_heads"]
        self.R, self.Dn, self.Dr, self.Dv = c["kv_lora_rank"], c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
        self.wq = nn.Linear(d, self.H * (self.Dn + self.Dr), bias=False)
        self.wkv_a = nn.Linear(d, self.R + self.Dr, bias=False)
        self.kv_norm = RMSNorm(self.R)
        self.wkv_b = nn.Linear(self.R, self.H * (self.Dn + self.Dv), bias=False)
        self.wo = nn.Linear(self.H * self.Dv, d, bias=False)

    def forward(self, x, cos, sin, cache, start):
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, self.H, self.Dn + self.Dr)
        q = torch.cat([q[..., :self.Dn], rope(q[..., self.Dn:], cos, sin, True)], -1)
        kv = self.wkv_a(x)
        k_pe = rope(kv[..., self.R:].unsqueeze(2), cos, sin, True)
        up = self.wkv_b(self.kv_norm(kv[..., :self.R])).view(B, T, self.H, self.Dn + self.Dv)
        k = torch.cat([up[..., :self.Dn], k_pe.expand(B, T, self.H, self.Dr)], -1)
        v = up[..., self.Dn:]
        if cache is not None:
            cache[0][:, start:start + T] = k
            cache[1][:, start:start + T] = v
            k, v = cache[0][:, :start + T], cache[1][:, :start + T]
        return self.wo(attend(q, k, v, (self.Dn + self.Dr) ** -0.5, start).reshape(B, T, -1))


class MoE(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.E, self.K = c["hidden_size"], c["n_routed_experts"], c["num_experts_per_tok"]
        self.gate = nn.Linear(d, self.E, bias=False)
        self.register_buffer("bias", torch.zeros(self.E))
        self.experts = nn.ModuleList(MLP(d, c["moe_intermediate_size"]) for _ in range(self.E))
        self.shared = MLP(d, c["n_shared_experts"] * c["moe_intermediate_size"])

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        s = self.gate(x).sigmoid()
        idx = (s + self.bias).topk(self.K, -1)[1]
        w = s.gather(1, idx)
        w = w / w.sum(-1, keepdim=True)
        y = torch.zeros_like(x)
        for e in range(self.E):
            tok, slot = torch.where(idx == e)
            if tok.numel():
                y = y.index_add(0, tok, self.experts[e](x[tok]) * w[tok, slot, None])
        return (y + self.shared(x)).view(shape)


class Block(nn.Module):
    def __init__(self, c, moe, layer):
        super().__init__()
        d = c["hidden_size"]
        self.n1, self.n2 = RMSNorm(d), RMSNorm(d)
        self.attn = MLA(c) if moe else GQA(c)
        self.ffn = MoE(c) if moe and layer >= c["first_k_dense_replace"] else MLP(d, c["intermediate_size"])

    def forward(self, x, cos, sin, cache=None, start=0):
        x = x + self.attn(self.n1(x), cos, sin, cache, start)
        return x + self.ffn(self.n2(x))


class Model(nn.Module):
    def __init__(self, c, moe):
        super().__init__()
        self.c, self.moe = c, moe
        d, V = c["hidden_size"], c["vocab_size"]
        self.embed = nn.Embedding(V, d)
        self.layers = nn.ModuleList(Block(c, moe, i) for i in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, V, bias=False)
        if not moe:
            self.head.weight = self.embed.weight  # tied, as the dense preset
        if moe and c.get("num_nextn_predict_layers", 0):
            self.mtp_en, self.mtp_hn, self.mtp_norm = RMSNorm(d), RMSNorm(d), RMSNorm(d)
            self.mtp_proj = nn.Linear(2 * d, d, bias=False)
            self.mtp_block = Block(c, moe, c["num_hidden_layers"])
        else:
            self.mtp_block = None
        rd = c["qk_rope_head_dim"] if moe else d // c["num_attention_heads"]
        self.cos, self.sin = rope_tables(rd, c["max_position_embeddings"], c["rope_theta"])

    def forward(self, ids, caches=None, start=0):
        T = ids.shape[1]
        cos, sin = self.cos[start:start + T], self.sin[start:start + T]
        h = self.embed(ids)
        for i, l in enumerate(self.layers):
            h = l(h, cos, sin, caches[i] if caches else None, start)
        return self.head(self.norm(h)), h

    def loss(self, ids, targets):
        logits, h = self.forward(ids)
        V = logits.shape[-1]
        loss = F.cross_entropy(logits.view(-1, V), targets.reshape(-1))
        if self.mtp_block is not None:
            T = ids.shape[1]
            x = self.mtp_proj(torch.cat([self.mtp_en(self.embed(ids[:, 1:])), self.mtp_hn(h[:, :-1])], -1))
            hm = self.mtp_norm(self.mtp_block(x, self.cos[:T - 1], self.sin[:T - 1]))
            loss = loss + self.c.get("mtp_loss_weight", 0.3) * F.cross_entropy(self.head(hm).reshape(-1, V), targets[:, 1:].reshape(-1))
        return loss


def bench_train(c, moe, B, T, steps, opt_kw=None, clip=0.0):
    m = Model(c, moe)
    opt = torch.optim.AdamW(m.parameters(), **(opt_kw or {"lr": 1e-3}))
    V = c["vocab_size"]
    ids = torch.randint(0, V, (B, T))
    tg = torch.randint(0, V, (B, T))
    times, cpu = [], []
    for i in range(steps + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = m.loss(ids, tg)
        opt.zero_grad()
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(m.parameters(), clip)
        opt.step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    half = max(1, steps // 2)
    bench_train.cpu = B * T / (sum(sorted(cpu[2:])[:half]) / half)  # tokens per CPU second (all threads' CPU time)
    return B * T / (sum(sorted(times[2:])[:half]) / half)


@torch.inference_mode()
def bench_decode(c, moe, B, prompt, new):
    m = Model(c, moe).eval()
    caches = []
    for l in m.layers:
        if moe:
            a = l.attn
            caches.append((torch.zeros(B, prompt + new, a.H, a.Dn + a.Dr), torch.zeros(B, prompt + new, a.H, a.Dv)))
        else:
            a = l.attn
            caches.append((torch.zeros(B, prompt + new, a.H, a.D), torch.zeros(B, prompt + new, a.H, a.D)))
    ids = torch.randint(0, c["vocab_size"], (B, prompt))
    logits, _ = m.forward(ids, caches, 0)
    tok = logits[:, -1].argmax(-1, keepdim=True)
    t0 = time.perf_counter()
    for i in range(new):
        logits, _ = m.forward(tok, caches, prompt + i)
        tok = logits[:, -1].argmax(-1, keepdim=True)
    return B * new / (time.perf_counter() - t0)


out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "train": {}, "train_cpu": {}, "decode": {}}
for name, entry in spec["models"].items():
    # An entry may override the run's batch/seq and give the optimizer settings (bench/train.ts does).
    c, moe = entry["config"], entry["moe"]
    B, T = entry.get("batch", spec["batch"]), entry.get("seq", spec["seq"])
    out["train"][name] = bench_train(c, moe, B, T, spec["train_steps"], entry.get("adamw"), entry.get("clip", 0.0))
    out["train_cpu"][name] = bench_train.cpu
    out["decode"][name] = {str(b): bench_decode(c, moe, b, spec["prompt"], spec["new_tokens"]) for b in spec.get("decode_batches", [])}
print(json.dumps(out))
