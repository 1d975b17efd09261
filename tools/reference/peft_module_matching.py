"""Reference for PEFT's adapter_config module matching, written from PEFT's own rules (peft/utils/other.py
get_pattern_key, peft/tuners/tuners_utils.py check_target_module_exists) with Python's `re`, so the
TypeScript matcher in packages/model-runtime/src/lora/adapter-config.ts is checked against an independent
regular-expression engine.

    python3 tools/reference/peft_module_matching.py > packages/model-runtime/src/__fixtures__/peft-module-matching.json
"""

from __future__ import annotations

import json
import re


def get_pattern_key(pattern_keys, key_to_match):
    for key in pattern_keys:
        if re.match(rf"(.*\.)?({key})$", key_to_match):
            return key
    return None


def check_target_module_exists(config, key):
    exclude = config.get("exclude_modules")
    if exclude:
        if isinstance(exclude, str):
            if re.fullmatch(exclude, key):
                return False
        elif key in exclude or any(key.endswith(f".{e}") for e in exclude):
            return False
    target = config["target_modules"]
    if isinstance(target, str) and target != "all-linear":
        return re.fullmatch(target, key) is not None
    if isinstance(target, list) and key in target:
        return True
    found = target == "all-linear" or any(key.endswith(f".{t}") for t in target)
    layer_indexes = config.get("layers_to_transform")
    if layer_indexes is None or not found:
        return found
    layers_pattern = config.get("layers_pattern")
    match = None
    if not layers_pattern:
        match = re.match(r".*\.[^.]*\.(\d+)\.", key)
    else:
        for pattern in [layers_pattern] if isinstance(layers_pattern, str) else layers_pattern:
            match = re.match(rf".*\.{pattern}\.(\d+)\.", key)
            if match is not None:
                break
    if match is None:
        return False
    index = int(match.group(1))
    return index == layer_indexes if isinstance(layer_indexes, int) else index in layer_indexes


MODULES = [
    f"model.layers.{layer}.{block}.{name}"
    for layer in (0, 1, 2, 11)
    for block, names in (("self_attn", ("q_proj", "k_proj", "v_proj", "o_proj")), ("mlp", ("gate_proj", "up_proj", "down_proj")))
    for name in names
]

PATTERN_KEYS = [
    ["q_proj"],
    ["layers.1.self_attn.q_proj", "q_proj"],
    [r"layers\.1\..*", "proj"],
    [r".*\.mlp\..*_proj"],
    ["self_attn.(q|k)_proj"],
    ["1.self_attn.q_proj"],
    [r"model\.layers\.11\.mlp\.down_proj"],
    ["_proj"],
]

TARGET_CONFIGS = [
    {"target_modules": ["q_proj", "v_proj"]},
    {"target_modules": ["self_attn.q_proj"]},
    {"target_modules": ["proj"]},
    {"target_modules": r".*\.mlp\..*"},
    {"target_modules": "q_proj"},
    {"target_modules": r"model\.layers\.(0|2)\.self_attn\.(q|v)_proj"},
    {"target_modules": "all-linear", "layers_to_transform": 1},
    {"target_modules": ["q_proj", "down_proj"], "layers_to_transform": [0, 11]},
    {"target_modules": ["o_proj"], "layers_to_transform": [2], "layers_pattern": "layers"},
    {"target_modules": ["o_proj"], "layers_to_transform": [2], "layers_pattern": ["blocks"]},
    {"target_modules": ["model.layers.1.self_attn.o_proj"], "layers_to_transform": [2]},
    {"target_modules": ["q_proj", "k_proj"], "exclude_modules": ["layers.0.self_attn.k_proj"]},
    {"target_modules": "all-linear", "exclude_modules": r".*\.mlp\..*"},
]

print(
    json.dumps(
        {
            "modules": MODULES,
            "patternKeys": [{"keys": keys, "matches": [get_pattern_key(keys, m) for m in MODULES]} for keys in PATTERN_KEYS],
            "targets": [{"config": c, "selected": [check_target_module_exists(c, m) for m in MODULES]} for c in TARGET_CONFIGS],
        },
        indent=1,
    )
)
