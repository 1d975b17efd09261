#!/usr/bin/env bash
# Packs `pnpm gpu:check` for a Linux x64 GPU machine that has neither Node.js nor network access (nor,
# often, a Vulkan loader): one folder holding
#   gpu-check.bundle.mjs   tools/gpu-check and the traitlens sources it uses, bundled by esbuild
#                          (the copy tsx brings; onnxruntime-node stays external)
#   node.xz                this machine's node binary (glibc-only dependencies), xz-compressed
#   node_modules/          onnxruntime-node (linux/x64 binding; libonnxruntime.so.1 travels as .xz) and
#                          onnxruntime-common
#   fixtures/              the float64 parity fixtures (parity/, parity-lora/)
#   lib/                   libvulkan.so.1 and libGLdispatch.so.0 (Debian's libvulkan1 and libglvnd0, or this
#                          machine's copies): the loader WebGPU (Dawn) needs and what NVIDIA's Vulkan ICD links
#   run.sh                 the command to run there
# usage: tools/gpu-check/pack.sh <out-dir>          then, on the GPU machine: bash <out-dir>/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:?usage: pack.sh <out-dir>}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out/node_modules" "$out/fixtures" "$out/lib" "$out/gpu-check.bundle.mjs"
mkdir -p "$out/node_modules" "$out/fixtures" "$out/lib"

# 1. the bundle (esbuild is a dependency of tsx, which the workspace always has)
node --input-type=module - "$root" "$out/gpu-check.bundle.mjs" <<'EOF'
import { createRequire } from 'node:module';
import { join } from 'node:path';
const [root, outfile] = process.argv.slice(2);
const fromRoot = createRequire(join(root, 'package.json'));
const esbuild = createRequire(fromRoot.resolve('tsx/package.json'))('esbuild');
await esbuild.build({
  entryPoints: [join(root, 'tools/gpu-check/src/gpu-check.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['@traitlens/source'],
  external: ['onnxruntime-node'],
  // Bundled CommonJS dependencies call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __gpuCheckRequire } from 'node:module'; const require = __gpuCheckRequire(import.meta.url);" },
  logLevel: 'warning',
});
EOF

# 2. node
node_binary="$(readlink -f "$(command -v node)")"
# Compressing takes minutes on a small machine: an up-to-date copy from an earlier pack is kept.
if [ ! -f "$out/node.xz" ] || [ "$node_binary" -nt "$out/node.xz" ]; then xz -T0 -6 -c "$node_binary" > "$out/node.xz"; fi
node --version > "$out/node.version"

# 3. onnxruntime-node for linux/x64
ort="$(readlink -f "$root/packages/model-runtime/node_modules/onnxruntime-node")"
common="$(readlink -f "$ort/../onnxruntime-common")"
mkdir -p "$out/node_modules/onnxruntime-node/bin/napi-v6/linux/x64" "$out/node_modules/onnxruntime-common"
cp -r "$ort/package.json" "$ort/dist" "$out/node_modules/onnxruntime-node/"
cp "$ort/bin/napi-v6/linux/x64/onnxruntime_binding.node" "$out/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/"
library="$ort/bin/napi-v6/linux/x64/libonnxruntime.so.1"
if [ ! -f "$out/libonnxruntime.so.1.xz" ] || [ "$library" -nt "$out/libonnxruntime.so.1.xz" ]; then
  xz -T0 -6 -c "$library" > "$out/libonnxruntime.so.1.xz"
fi
cp -r "$common/package.json" "$common/dist" "$out/node_modules/onnxruntime-common/"
find "$out/node_modules" -name '*.map' -delete

# 4. fixtures
cp -r "$root/packages/model-runtime/src/__fixtures__/parity" "$root/packages/model-runtime/src/__fixtures__/parity-lora" "$out/fixtures/"

# 5. the Vulkan loader and libGLdispatch (Debian's packages when apt can fetch them, else this machine's)
debs="$(mktemp -d)"
if (cd "$debs" && apt-get download libvulkan1 libglvnd0 >/dev/null 2>&1); then
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$debs/root"; done
  # Real files under the soname (no symlinks: some ways of carrying a folder drop links).
  cp -L "$debs"/root/usr/lib/x86_64-linux-gnu/libvulkan.so.1 "$debs"/root/usr/lib/x86_64-linux-gnu/libGLdispatch.so.0 "$out/lib/"
else
  echo "pack: apt-get download failed; copying this machine's libvulkan.so.1 / libGLdispatch.so.0" >&2
  for name in libvulkan.so.1 libGLdispatch.so.0; do
    found="$(ldconfig -p | awk -v n="$name" '$1 == n { print $NF; exit }')"
    [ -z "$found" ] && [ "$name" = libvulkan.so.1 ] && [ -f /usr/lib/chromium/libvulkan.so.1 ] && found=/usr/lib/chromium/libvulkan.so.1
    if [ -n "$found" ]; then cp -L "$found" "$out/lib/$name"; else echo "pack: no $name found; the GPU machine must provide it" >&2; fi
  done
fi
rm -rf "$debs"

cp "$here/run-packed.sh" "$out/run.sh"
chmod +x "$out/run.sh"
du -sb "$out" | awk '{ printf "pack: %.1f MiB in %s\n", $1 / 1048576, $2 }'
