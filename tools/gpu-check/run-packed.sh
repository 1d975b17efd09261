#!/usr/bin/env bash
# Runs a packed `pnpm gpu:check` (made by tools/gpu-check/pack.sh, copied to <pack>/run.sh) on a Linux
# x64 GPU machine without Node.js or network: unpacks node and onnxruntime's library, points WebGPU's
# Vulkan loader at the NVIDIA driver's ICD (writing a manifest for libGLX_nvidia.so.0 when the driver
# installed none, as in many containers), then runs the check. No root needed.
# usage: bash <pack>/run.sh [gpu:check options]      (default: --providers webgpu,cpu)
#   OUT=<dir> (default /tmp/gpu-check-out): gpu-check.md, gpu-check.json, gpu-check.log, env.txt
#   GPU_CHECK_SECONDS (default 540): the check is stopped after this long; what it finished is in the log
set -u
pack="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-/tmp/gpu-check-out}"
work="${GPU_CHECK_WORK:-/tmp/traitlens-gpu-check}"
mkdir -p "$out"
rm -rf "$work" && mkdir -p "$work" && cp -r "$pack/." "$work/"
xz -dc "$work/node.xz" > "$work/node" && chmod +x "$work/node"
xz -dc "$work/libonnxruntime.so.1.xz" > "$work/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"

# Libraries: the driver's (Kubernetes device plugins mount them at /usr/local/nvidia/lib64), then the
# packed Vulkan loader and libGLdispatch where the system has none.
has() { ldconfig -p 2>/dev/null | grep -q "$1 "; }
paths=""
[ -d /usr/local/nvidia/lib64 ] && paths="/usr/local/nvidia/lib64"
if ! has libvulkan.so.1 || ! has libGLdispatch.so.0; then paths="${paths:+$paths:}$work/lib"; fi
[ -n "$paths" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$paths"

icd=""
for candidate in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
  /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
  [ -f "$candidate" ] && icd="$candidate" && break
done
if [ -z "$icd" ] && { has libGLX_nvidia.so.0 || [ -f /usr/local/nvidia/lib64/libGLX_nvidia.so.0 ]; }; then
  icd="$work/nvidia_icd.json"
  printf '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3.0"}}\n' > "$icd"
fi
[ -n "$icd" ] && export VK_ICD_FILENAMES="$icd" VK_DRIVER_FILES="$icd"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

{
  echo "node $("$work/node" --version)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "vulkan icd: ${icd:-no NVIDIA ICD found; VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-unset}}"
  [ -n "$icd" ] && cat "$icd"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
} > "$out/env.txt" 2>&1

[ $# -eq 0 ] && set -- --providers webgpu,cpu
cd "$work"
timeout "${GPU_CHECK_SECONDS:-540}" "$work/node" "$work/gpu-check.bundle.mjs" --out "$out/gpu-check.json" "$@" \
  > "$out/gpu-check.md" 2> "$out/gpu-check.log"
status=$?
echo "gpu:check exit $status (0 all passed, 1 a case failed or a provider unavailable, 2 usage, 124 time limit)" | tee -a "$out/gpu-check.log"
exit $status
