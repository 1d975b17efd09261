#!/usr/bin/env python3
"""Independent float64 reference forward pass for traitlens' architecture adapters.

Written from the Hugging Face modelling semantics (Llama, Mistral, Qwen2, Qwen3), without importing
transformers, so the TypeScript/ONNX runtime can be checked against something that shares no code with
it. Everything is computed in float64 with torch on the CPU.

Hook sites per decoder layer L (0-based), in order:
  resid_pre  = block input (HF hidden_states[L])
  attn_out   = o_proj output
  resid_mid  = resid_pre + attn_out
  mlp_out    = down_proj output
  resid_post = resid_mid + mlp_out (HF hidden_states[L+1], except for the last layer: HF's last
               hidden state is taken after the final norm, resid_post before it)
Steering at a site is applied right after the site is computed and the modified value flows on:
  add:    h + c * v
  ablate: h - c * (h . u) u,  u = v / |v|
with c a per-position coefficient; captures at a steered site show the modified value.

Commands:
  reference_forward.py run CASES.json [CASES.json ...]   write the outputs each cases file names
  reference_forward.py greedy MODEL_DIR --prompt-ids 1 --steps 60 [--decode]
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
import torch

SITES = ("resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post")
LAYER_CONVENTION = (
    "traitlens-v1: 0-based decoder layers; resid_pre of layer L = HF hidden_states[L]; "
    "resid_post of layer L = HF hidden_states[L+1] for L < n_layers-1; "
    "resid_post of the last layer is the block output before the final norm "
    "(HF hidden_states[n_layers] is after the final norm)"
)
SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM")

torch.set_grad_enabled(False)


# --------------------------------------------------------------------------------------------------
# safetensors (a tiny reader and writer: the format is an 8-byte header length, a JSON header, data)


def _decode_tensor(raw: bytes, dtype: str, shape: list[int]) -> np.ndarray:
    if dtype == "F32":
        values = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    elif dtype == "F64":
        values = np.frombuffer(raw, dtype="<f8").astype(np.float64)
    elif dtype == "F16":
        values = np.frombuffer(raw, dtype="<f2").astype(np.float64)
    elif dtype == "BF16":
        # bfloat16 is the upper half of a float32: shift the bits up and reinterpret.
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        values = bits.view(np.float32).astype(np.float64)
    else:
        raise ValueError(f"unsupported safetensors dtype {dtype}")
    return values.reshape(shape)


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    data = path.read_bytes()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_length])
    base = 8 + header_length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        tensors[name] = torch.from_numpy(_decode_tensor(data[base + start : base + end], info["dtype"], info["shape"]).copy())
    return tensors


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    header: dict[str, object] = {"__metadata__": metadata}
    chunks = []
    offset = 0
    for name, array in tensors.items():
        if array.dtype.kind == "f":
            raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
            dtype = "F32"
        else:
            raw = np.ascontiguousarray(array, dtype="<i4").tobytes()
            dtype = "I32"
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    temporary = path.with_name(path.name + ".partial")
    with open(temporary, "wb") as handle:
        handle.write(struct.pack("<Q", len(header_bytes)))
        handle.write(header_bytes)
        for chunk in chunks:
            handle.write(chunk)
    temporary.replace(path)


def load_weights(directory: Path) -> dict[str, torch.Tensor]:
    index_path = directory / "model.safetensors.index.json"
    if index_path.exists():
        weights = {}
        for shard in sorted(set(json.loads(index_path.read_text())["weight_map"].values())):
            weights.update(read_safetensors(directory / shard))
        return weights
    return read_safetensors(directory / "model.safetensors")


# --------------------------------------------------------------------------------------------------
# The model


def inverse_frequencies(config: dict, head_dim: int) -> torch.Tensor:
    """RoPE inverse frequencies, with HF's llama3 (`_compute_llama3_parameters`) and linear scaling."""
    theta = float(config.get("rope_theta", 10000.0))
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    scaling = config.get("rope_scaling")
    if not scaling:
        return inv_freq
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind == "default":
        return inv_freq
    if kind == "linear":
        return inv_freq / float(scaling["factor"])
    if kind != "llama3":
        raise ValueError(f"rope_scaling type {kind!r} is not implemented in the reference")
    factor = float(scaling["factor"])
    low_freq_factor = float(scaling["low_freq_factor"])
    high_freq_factor = float(scaling["high_freq_factor"])
    old_context = float(scaling["original_max_position_embeddings"])
    low_freq_wavelength = old_context / low_freq_factor
    high_freq_wavelength = old_context / high_freq_factor
    wavelength = 2 * math.pi / inv_freq
    # Long wavelengths (low frequencies) are slowed by `factor`, short ones kept, the band between blended.
    scaled = torch.where(wavelength > low_freq_wavelength, inv_freq / factor, inv_freq)
    smooth = (old_context / wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = (wavelength >= high_freq_wavelength) & (wavelength <= low_freq_wavelength)
    return torch.where(is_medium, smoothed, scaled)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_steering(h: torch.Tensor, specs: list[dict], layer: int, site: str) -> torch.Tensor:
    """h [B, S, D]; each spec has vector [D] and coefficient [B, S] (0 leaves a position untouched)."""
    for spec in specs:
        if spec["layer"] != layer or spec["site"] != site:
            continue
        vector = spec["vector"]
        coefficient = spec["coefficient"].unsqueeze(-1)
        if spec["mode"] == "add":
            h = h + coefficient * vector
        elif spec["mode"] == "ablate":
            unit = vector / torch.linalg.norm(vector)
            h = h - coefficient * (h @ unit).unsqueeze(-1) * unit
        else:
            raise ValueError(f"unknown steering mode {spec['mode']!r}")
    return h


class ReferenceModel:
    def __init__(self, directory: Path):
        self.directory = directory
        self.config = json.loads((directory / "config.json").read_text())
        config = self.config
        self.architecture = config["architectures"][0]
        if self.architecture not in SUPPORTED_ARCHITECTURES:
            raise ValueError(f"{directory}: architecture {self.architecture} is not supported by the reference")
        self.hidden_size = config["hidden_size"]
        self.layer_count = config["num_hidden_layers"]
        self.head_count = config["num_attention_heads"]
        self.kv_head_count = config.get("num_key_value_heads") or self.head_count
        self.head_dim = config.get("head_dim") or self.hidden_size // self.head_count
        self.eps = float(config["rms_norm_eps"])
        self.weights = load_weights(directory)
        self.embedding = self.weights["model.embed_tokens.weight"]
        self.vocab_size = self.embedding.shape[0]
        # Qwen2 always has q/k/v biases; Llama and Qwen3 have them when attention_bias is set.
        self.has_qkv_bias = self.architecture == "Qwen2ForCausalLM" or bool(config.get("attention_bias", False))
        self.has_qk_norm = self.architecture == "Qwen3ForCausalLM"
        tied = config.get("tie_word_embeddings", False) or "lm_head.weight" not in self.weights
        self.lm_head = self.embedding if tied else self.weights["lm_head.weight"]
        self.inv_freq = inverse_frequencies(config, self.head_dim)

    def weight(self, name: str) -> torch.Tensor:
        return self.weights[name]

    def linear(self, x: torch.Tensor, prefix: str, bias: bool = False) -> torch.Tensor:
        y = x @ self.weight(prefix + ".weight").T
        if bias:
            y = y + self.weight(prefix + ".bias")
        return y

    def forward(
        self,
        rows: list[list[int]],
        padding_side: str = "left",
        steering: list[dict] | None = None,
        pad_token_id: int = 0,
    ) -> dict:
        """Runs a padded batch. Steering coefficients are given per row per real token (unpadded).

        Returns logits per row [n_r, V] and captures[(site, layer)] per row [n_r, D], real tokens only.
        """
        batch = len(rows)
        lengths = [len(row) for row in rows]
        length = max(lengths)
        ids = torch.full((batch, length), pad_token_id, dtype=torch.long)
        mask = torch.zeros((batch, length), dtype=torch.bool)
        starts = []
        for r, row in enumerate(rows):
            start = length - len(row) if padding_side == "left" else 0
            starts.append(start)
            ids[r, start : start + len(row)] = torch.tensor(row, dtype=torch.long)
            mask[r, start : start + len(row)] = True
        positions = (mask.long().cumsum(dim=1) - 1).clamp(min=0)

        specs = []
        for spec in steering or []:
            coefficient = torch.zeros((batch, length), dtype=torch.float64)
            for r, values in enumerate(spec["coefficient"]):
                if len(values) != lengths[r]:
                    raise ValueError(f"steering coefficient row {r} has {len(values)} values for {lengths[r]} tokens")
                coefficient[r, starts[r] : starts[r] + lengths[r]] = torch.tensor(values, dtype=torch.float64)
            vector = torch.tensor(spec["vector"], dtype=torch.float64)
            if vector.shape != (self.hidden_size,):
                raise ValueError(f"steering vector has {vector.shape[0]} values; the model width is {self.hidden_size}")
            specs.append({"layer": spec["layer"], "site": spec["site"], "mode": spec.get("mode", "add"), "vector": vector, "coefficient": coefficient})

        # Query i may see key j when j <= i and j is a real token. A padding query also sees itself so
        # its softmax is finite; its values never reach a real token and are not reported.
        causal = torch.tril(torch.ones((length, length), dtype=torch.bool))
        allowed = causal.unsqueeze(0) & mask.unsqueeze(1)
        allowed = allowed | torch.eye(length, dtype=torch.bool).unsqueeze(0)
        allowed = allowed.unsqueeze(1)  # [B, 1, S, S]

        angles = positions.to(torch.float64).unsqueeze(-1) * self.inv_freq  # [B, S, hd/2]
        angles = torch.cat((angles, angles), dim=-1)
        cos = angles.cos().unsqueeze(2)  # [B, S, 1, hd]
        sin = angles.sin().unsqueeze(2)

        captures: dict[tuple[str, int], torch.Tensor] = {}
        h = self.embedding[ids]
        group = self.head_count // self.kv_head_count
        for layer in range(self.layer_count):
            prefix = f"model.layers.{layer}"
            h = apply_steering(h, specs, layer, "resid_pre")
            captures[("resid_pre", layer)] = h
            x = rms_norm(h, self.weight(prefix + ".input_layernorm.weight"), self.eps)
            q = self.linear(x, prefix + ".self_attn.q_proj", self.has_qkv_bias).view(batch, length, self.head_count, self.head_dim)
            k = self.linear(x, prefix + ".self_attn.k_proj", self.has_qkv_bias).view(batch, length, self.kv_head_count, self.head_dim)
            v = self.linear(x, prefix + ".self_attn.v_proj", self.has_qkv_bias).view(batch, length, self.kv_head_count, self.head_dim)
            if self.has_qk_norm:
                q = rms_norm(q, self.weight(prefix + ".self_attn.q_norm.weight"), self.eps)
                k = rms_norm(k, self.weight(prefix + ".self_attn.k_norm.weight"), self.eps)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            q = q.transpose(1, 2)  # [B, H, S, hd]
            k = k.transpose(1, 2).repeat_interleave(group, dim=1)  # query head h uses kv head h // group
            v = v.transpose(1, 2).repeat_interleave(group, dim=1)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim)
            scores = scores.masked_fill(~allowed, float("-inf"))
            attention = torch.softmax(scores, dim=-1) @ v  # [B, H, S, hd]
            attention = attention.transpose(1, 2).reshape(batch, length, self.head_count * self.head_dim)
            attn_out = self.linear(attention, prefix + ".self_attn.o_proj")
            attn_out = apply_steering(attn_out, specs, layer, "attn_out")
            captures[("attn_out", layer)] = attn_out
            mid = apply_steering(h + attn_out, specs, layer, "resid_mid")
            captures[("resid_mid", layer)] = mid
            y = rms_norm(mid, self.weight(prefix + ".post_attention_layernorm.weight"), self.eps)
            gate = self.linear(y, prefix + ".mlp.gate_proj")
            up = self.linear(y, prefix + ".mlp.up_proj")
            mlp_out = self.linear(torch.nn.functional.silu(gate) * up, prefix + ".mlp.down_proj")
            mlp_out = apply_steering(mlp_out, specs, layer, "mlp_out")
            captures[("mlp_out", layer)] = mlp_out
            h = apply_steering(mid + mlp_out, specs, layer, "resid_post")
            captures[("resid_post", layer)] = h
        logits = rms_norm(h, self.weight("model.norm.weight"), self.eps) @ self.lm_head.T

        def unpad(tensor: torch.Tensor) -> list[torch.Tensor]:
            return [tensor[r, starts[r] : starts[r] + lengths[r]] for r in range(batch)]

        return {"logits": unpad(logits), "captures": {key: unpad(value) for key, value in captures.items()}}

    def greedy(self, prompt: list[int], steps: int, steering: list[dict] | None = None) -> dict:
        """Greedy decoding by a full re-forward per step (no cache). Steering coefficients are one
        number per spec, applied at every position, prompt and generated."""
        tokens = list(prompt)
        generated, step_logits, margins = [], [], []
        for _ in range(steps):
            specs = [{**spec, "coefficient": [[spec["coefficient"]] * len(tokens)]} for spec in steering or []]
            logits = self.forward([tokens], steering=specs)["logits"][0][-1]
            top = torch.topk(logits, 2).values
            margins.append(float(top[0] - top[1]))
            token = int(torch.argmax(logits))
            step_logits.append(logits)
            generated.append(token)
            tokens.append(token)
        return {"generated": generated, "logits": torch.stack(step_logits), "margins": margins}


# --------------------------------------------------------------------------------------------------
# Cases files


def as_float32(tensor: torch.Tensor) -> np.ndarray:
    return tensor.numpy().astype(np.float32)


def run_forward_case(model: ReferenceModel, case: dict, pad_token_id: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    rows = [row["tokenIds"] for row in case["rows"]]
    steering = case.get("steer", [])
    sides = case.get("paddingSides", ["left"])
    results = [model.forward(rows, side, steering, pad_token_id) for side in sides]
    # Self-checks: padding side must not matter, and neither must batching (each row alone, unpadded).
    discrepancy = 0.0
    for other in results[1:]:
        for a, b in zip(results[0]["logits"], other["logits"]):
            discrepancy = max(discrepancy, float((a - b).abs().max()))
        for key in results[0]["captures"]:
            for a, b in zip(results[0]["captures"][key], other["captures"][key]):
                discrepancy = max(discrepancy, float((a - b).abs().max()))
    for r, row in enumerate(rows):
        alone_steering = [{**spec, "coefficient": [spec["coefficient"][r]]} for spec in steering]
        alone = model.forward([row], "left", alone_steering, pad_token_id)
        discrepancy = max(discrepancy, float((alone["logits"][0] - results[0]["logits"][r]).abs().max()))
    if discrepancy > 1e-9:
        raise AssertionError(f"case {case['name']}: padded and unpadded results differ by {discrepancy}")

    result = results[0]
    tensors: dict[str, np.ndarray] = {}
    for r in range(len(rows)):
        tensors[f"logits.row{r}"] = as_float32(result["logits"][r])
    for layer in range(model.layer_count):
        for site in SITES:
            for r in range(len(rows)):
                tensors[f"{site}.{layer}.row{r}"] = as_float32(result["captures"][(site, layer)][r])
    metadata = {"padding_discrepancy": f"{discrepancy:.3e}"}
    return tensors, metadata


def run_greedy_case(model: ReferenceModel, case: dict) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    tensors: dict[str, np.ndarray] = {}
    generated_all, margin = [], float("inf")
    for r, row in enumerate(case["rows"]):
        steering = [{**spec, "coefficient": spec["coefficient"][r]} for spec in case.get("steer", [])]
        result = model.greedy(row["tokenIds"], case["steps"], steering)
        tensors[f"logits.row{r}"] = as_float32(result["logits"])
        tensors[f"generated.row{r}"] = np.array(result["generated"], dtype=np.int32)
        generated_all.append(result["generated"])
        margin = min(margin, min(result["margins"]))
    metadata = {"generated_token_ids": json.dumps(generated_all), "min_top2_logit_margin": f"{margin:.6f}"}
    return tensors, metadata


def run_cases_file(path: Path) -> None:
    spec = json.loads(path.read_text())
    model = ReferenceModel((path.parent / spec["model"]).resolve())
    pad_token_id = spec.get("padTokenId", 0)
    for case in spec["cases"]:
        if case["kind"] == "forward":
            tensors, metadata = run_forward_case(model, case, pad_token_id)
        elif case["kind"] == "greedy":
            tensors, metadata = run_greedy_case(model, case)
        else:
            raise ValueError(f"{path}: unknown case kind {case['kind']!r}")
        metadata.update(
            {
                "format": "traitlens-parity-v1",
                "case": case["name"],
                "architecture": model.architecture,
                "layer_convention": LAYER_CONVENTION,
                "reference": "tools/reference/reference_forward.py (float64, stored as float32)",
            }
        )
        write_safetensors(path.parent / case["output"], tensors, metadata)
        summary = ", ".join(f"{key}={value}" for key, value in metadata.items() if key in ("padding_discrepancy", "min_top2_logit_margin", "generated_token_ids"))
        print(f"{path.parent.name}/{case['output']}: {len(tensors)} tensors; {summary}")


# --------------------------------------------------------------------------------------------------
# Display-only decoding (byte-level BPE or SentencePiece pieces with byte fallback)


def decode_for_display(directory: Path, ids: list[int]) -> str:
    tokenizer = json.loads((directory / "tokenizer.json").read_text())
    id_to_piece = {index: piece for piece, index in tokenizer["model"]["vocab"].items()}
    special = set()
    for token in tokenizer.get("added_tokens", []):
        id_to_piece[token["id"]] = token["content"]
        if token.get("special"):
            special.add(token["id"])
    pieces = [id_to_piece[i] for i in ids if i not in special]
    decoder = tokenizer.get("decoder") or {}
    if decoder.get("type") == "ByteLevel":
        byte_of = {}
        shifted = 0
        for byte in range(256):
            printable = 33 <= byte <= 126 or 161 <= byte <= 172 or 174 <= byte <= 255
            byte_of[chr(byte if printable else 256 + shifted)] = byte
            shifted += 0 if printable else 1
        return bytes(byte_of[c] for piece in pieces for c in piece).decode("utf-8", errors="replace")
    out = bytearray()
    for piece in pieces:
        if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
            out.append(int(piece[3:5], 16))
        else:
            out.extend(piece.replace("\u2581", " ").encode("utf-8"))
    text = out.decode("utf-8", errors="replace")
    return text[1:] if text.startswith(" ") else text


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="compute the outputs of cases files")
    run.add_argument("cases", nargs="+", type=Path)
    greedy = commands.add_parser("greedy", help="greedy-decode a model from token ids")
    greedy.add_argument("model", type=Path)
    greedy.add_argument("--prompt-ids", default="", help="comma-separated ids (default: the BOS id)")
    greedy.add_argument("--steps", type=int, default=20)
    greedy.add_argument("--decode", action="store_true", help="also print the decoded text")
    args = parser.parse_args(argv)
    if args.command == "run":
        for path in args.cases:
            run_cases_file(path)
        return
    model = ReferenceModel(args.model)
    prompt = [int(x) for x in args.prompt_ids.split(",") if x.strip()] or [model.config["bos_token_id"]]
    result = model.greedy(prompt, args.steps)
    ids = prompt + result["generated"]
    print(json.dumps({"token_ids": ids, "min_top2_logit_margin": min(result["margins"])}))
    if args.decode:
        print(decode_for_display(args.model, ids))


if __name__ == "__main__":
    main(sys.argv[1:])
