#!/usr/bin/env python3
"""PyTorch eager baseline for `pnpm bench:runtime`.

Loads the same model.safetensors the traitlens benchmark uses, runs an eager Llama-family forward pass
written directly against the Hugging Face weight layout, and times the same cases on the same token ids
(read from --inputs, written by the TypeScript harness): prefill 8x128 with no hooks, with forward hooks
capturing every block output (copied out, as traitlens copies captures into JS), and with a steering hook
at one layer; greedy decode with a KV cache at batch 1 and 8, and at batch 1 after contexts of 128 to
2048 tokens.

It serves the harness so that the engines take turns case by case within each round: after loading it
prints one JSON line {"ready": {...configuration}}, then answers each stdin line {"case": name} with
{"case": name, "value": tokens_per_second}.

Configured the way a PyTorch user on this machine would get the most out of it: the harness starts it
without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (which force OpenBLAS's AVX2 kernels), with
OPENBLAS_NUM_THREADS = --threads, and the script picks torch.set_num_threads between 1 and --threads by
timing a 1024x768 @ 768x2048 product under each (with the pthread OpenBLAS, 1 usually wins: OpenBLAS
keeps its own threads and a second torch pool oversubscribes the cores).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 \
      /usr/bin/python3 tools/bench/torch_eager_bench.py --model <dir> --threads 2 --inputs inputs.json
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as handle:
        length = struct.unpack("<Q", handle.read(8))[0]
        header = json.loads(handle.read(length))
        data = handle.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = bytearray(data[start:end])
        tensor = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[name] = tensor.to(torch.float32)
    return tensors


class Block(torch.nn.Module):
    def __init__(self, weights, prefix, config):
        super().__init__()
        self.w = {key[len(prefix):]: value for key, value in weights.items() if key.startswith(prefix)}
        self.eps = config["rms_norm_eps"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config.get("num_key_value_heads", self.heads)
        self.head_dim = config.get("head_dim") or config["hidden_size"] // self.heads

    def rms(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    def forward(self, x, cos, sin, mask, cache):
        batch, seq, _ = x.shape
        h = self.rms(x, self.w["input_layernorm.weight"])
        q = F.linear(h, self.w["self_attn.q_proj.weight"]).view(batch, seq, self.heads, self.head_dim).transpose(1, 2)
        k = F.linear(h, self.w["self_attn.k_proj.weight"]).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        v = F.linear(h, self.w["self_attn.v_proj.weight"]).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        repeat = self.heads // self.kv_heads
        kr = k.repeat_interleave(repeat, dim=1)
        vr = v.repeat_interleave(repeat, dim=1)
        scores = (q @ kr.transpose(-1, -2)) / math.sqrt(self.head_dim) + mask
        attention = (scores.softmax(-1) @ vr).transpose(1, 2).reshape(batch, seq, -1)
        x = x + F.linear(attention, self.w["self_attn.o_proj.weight"])
        h = self.rms(x, self.w["post_attention_layernorm.weight"])
        mlp = F.linear(F.silu(F.linear(h, self.w["mlp.gate_proj.weight"])) * F.linear(h, self.w["mlp.up_proj.weight"]), self.w["mlp.down_proj.weight"])
        return x + mlp, (k, v)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class Llama(torch.nn.Module):
    def __init__(self, directory):
        super().__init__()
        with open(os.path.join(directory, "config.json")) as handle:
            self.config = json.load(handle)
        weights = read_safetensors(os.path.join(directory, "model.safetensors"))
        self.embed = weights["model.embed_tokens.weight"]
        self.norm = weights["model.norm.weight"]
        self.lm_head = weights.get("lm_head.weight", self.embed)
        self.blocks = torch.nn.ModuleList(Block(weights, f"model.layers.{i}.", self.config) for i in range(self.config["num_hidden_layers"]))
        head_dim = self.config.get("head_dim") or self.config["hidden_size"] // self.config["num_attention_heads"]
        self.inv_freq = 1.0 / (self.config.get("rope_theta", 10000.0) ** (torch.arange(0, head_dim, 2).float() / head_dim))

    def forward(self, ids, past=None, last_only=True):
        batch, seq = ids.shape
        start = 0 if past is None else past[0][0].shape[2]
        positions = torch.arange(start, start + seq).float()
        freqs = torch.outer(positions, self.inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((seq, start + seq), float("-inf")).triu(start + 1)
        x = F.embedding(ids, self.embed)
        presents = []
        for index, block in enumerate(self.blocks):
            x, present = block(x, cos, sin, mask, None if past is None else past[index])
            presents.append(present)
        if last_only:
            x = x[:, -1:]
        h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.config["rms_norm_eps"]) * self.norm
        return F.linear(h, self.lm_head), presents


def timed(tokens, run):
    start = time.perf_counter()
    run()
    return tokens / (time.perf_counter() - start)


def matmul_gflops(repeats=5):
    a = torch.randn(1024, 768)
    b = torch.randn(768, 2048)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * 1024 * 768 * 2048 / best / 1e9


def choose_torch_threads(threads):
    """The faster of torch.set_num_threads(1) and (threads) on the reference product, with both figures."""
    figures = {}
    for candidate in sorted({1, threads}):
        torch.set_num_threads(candidate)
        figures[candidate] = matmul_gflops()
    best = max(figures, key=figures.get)
    torch.set_num_threads(best)
    return best, figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--inputs", required=True, help="JSON with prefill, decodePrompt, contextPrompt token ids")
    parser.add_argument("--decode-steps", type=int, default=16)
    args = parser.parse_args()
    torch_threads, gflops = choose_torch_threads(args.threads)
    with open(args.inputs) as handle:
        inputs = json.load(handle)
    model = Llama(args.model).eval()
    hidden = model.embed.shape[1]
    prefill = torch.tensor(inputs["prefill"])
    prompt = torch.tensor(inputs["decodePrompt"])
    context_prompt = torch.tensor(inputs["contextPrompt"])
    captured = []
    vector = torch.sin(torch.arange(hidden).float())
    middle = len(model.blocks) // 2

    def with_hooks(register, run):
        handles = register()
        try:
            return run()
        finally:
            for handle in handles:
                handle.remove()

    def capture_all():
        captured.clear()
        return [block.register_forward_hook(lambda module, inputs, output: captured.append(output[0].detach().clone())) for block in model.blocks]

    def steer_one():
        return [model.blocks[middle].register_forward_hook(lambda module, inputs, output: (output[0] + 2.0 * vector, output[1]))]

    def generate(ids, steps):
        logits, past = model(ids)
        for _ in range(steps - 1):
            token = logits[:, -1].argmax(-1, keepdim=True)
            logits, past = model(token, past)

    def decode(ids):
        """Decode throughput = generated tokens / time, (prompt + N steps) minus (prompt + 1), as the TS side."""
        t0 = time.perf_counter()
        generate(ids, 1)
        t1 = time.perf_counter()
        generate(ids, args.decode_steps + 1)
        t2 = time.perf_counter()
        return ids.shape[0] * args.decode_steps / ((t2 - t1) - (t1 - t0))

    def decode_steps(ids):
        """Batch-1 decode throughput from the median time between consecutive tokens of one generation, as the TS side."""
        logits, past = model(ids)
        stamps = [time.perf_counter()]
        for _ in range(args.decode_steps):
            token = logits[:, -1].argmax(-1, keepdim=True)
            logits, past = model(token, past)
            stamps.append(time.perf_counter())
        steps = sorted(b - a for a, b in zip(stamps, stamps[1:]))
        return 1.0 / steps[len(steps) // 2]

    cases = {
        "prefill_no_hooks": lambda: timed(prefill.numel(), lambda: model(prefill)),
        "prefill_capture_all_resid_post": lambda: with_hooks(capture_all, lambda: timed(prefill.numel(), lambda: model(prefill))),
        "prefill_steer_one_layer": lambda: with_hooks(steer_one, lambda: timed(prefill.numel(), lambda: model(prefill))),
        "decode_batch_1": lambda: decode(prompt[:1]),
        "decode_batch_8": lambda: decode(prompt[:8]),
    }
    for length in inputs.get("contextLengths", []):
        cases[f"decode_context_{length}"] = (lambda n: lambda: decode_steps(context_prompt[:, :n]))(length)

    print(json.dumps({"ready": {
        "torch": torch.__version__,
        "torchThreads": torch_threads,
        "openblasThreads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "openblasCoretype": os.environ.get("OPENBLAS_CORETYPE"),
        "matmulGflops": {str(k): round(v, 1) for k, v in gflops.items()},
        "cases": list(cases),
    }}), flush=True)
    with torch.inference_mode():
        for line in sys.stdin:
            request = json.loads(line)
            name = request["case"]
            if name not in cases:
                print(json.dumps({"case": name, "error": "unknown case"}), flush=True)
                continue
            print(json.dumps({"case": name, "value": cases[name]()}), flush=True)


if __name__ == "__main__":
    main()
