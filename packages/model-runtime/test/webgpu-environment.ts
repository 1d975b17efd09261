/**
 * Makes WebGPU usable in tests on a machine without a GPU and tells tests whether it is.
 *
 * Debian's chromium package ships SwiftShader, a Vulkan driver on the CPU
 * (/usr/lib/chromium/vk_swiftshader_icd.json), and its own Vulkan loader (libvulkan.so.1) beside it.
 * When VK_ICD_FILENAMES is unset and that driver exists, it is selected (XDG_RUNTIME_DIR is set too,
 * as Dawn wants one); when the system has no libvulkan.so.1 (the libvulkan1 package), chromium's loader
 * is loaded into the process first so the WebGPU provider finds it by its soname. Then a one-node graph
 * is run on WebGPU. Only "no Vulkan loader or WebGPU adapter" makes tests skip; any other failure is
 * reported as available so the tests run and fail. TRAITLENS_REQUIRE_WEBGPU=1 turns a skip into a
 * failure (for machines that must run these tests).
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as ort from 'onnxruntime-node';
import { OnnxGraphBuilder, OnnxType } from '../src/graph/onnx-graph-builder';

const chromiumDirectory = '/usr/lib/chromium';
const swiftShaderIcd = `${chromiumDirectory}/vk_swiftshader_icd.json`;
const systemLoaders = [
  '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
  '/usr/lib/aarch64-linux-gnu/libvulkan.so.1',
  '/usr/lib64/libvulkan.so.1',
  '/usr/lib/libvulkan.so.1',
];
/** glibc's RTLD_NODELETE (not in os.constants.dlopen): the library stays loaded after Node gives up on it. */
const rtldNoDelete = 0x1000;
const rtldNow = 2;
const rtldGlobal = 0x100;

export type WebGpuAvailability = { available: true; driver: string } | { available: false; reason: string };

let cached: Promise<WebGpuAvailability> | undefined;

function isMissingDevice(message: string): boolean {
  return /No supported adapters|Couldn't load Vulkan|libvulkan|Failed to get a WebGPU adapter/i.test(message);
}

async function probe(): Promise<WebGpuAvailability> {
  if (process.platform !== 'linux')
    return { available: false, reason: `WebGPU tests run on Linux only (this is ${process.platform})` };
  if (!process.env.VK_ICD_FILENAMES && existsSync(swiftShaderIcd)) {
    process.env.VK_ICD_FILENAMES = swiftShaderIcd;
    process.env.XDG_RUNTIME_DIR ??= tmpdir();
  }
  const chromiumLoader = `${chromiumDirectory}/libvulkan.so.1`;
  if (!systemLoaders.some((path) => existsSync(path)) && existsSync(chromiumLoader)) {
    try {
      process.dlopen({ exports: {} }, chromiumLoader, rtldNow | rtldGlobal | rtldNoDelete);
    } catch {
      // Expected: it is not a Node addon ("did not self-register"); RTLD_NODELETE keeps it loaded.
    }
  }
  const driver = process.env.VK_ICD_FILENAMES ?? 'the system Vulkan driver';
  const g = new OnnxGraphBuilder('unused.data');
  g.output(g.op('Neg', [g.input('x', OnnxType.float32, [2])]), 'y', OnnxType.float32, [2]);
  let session: ort.InferenceSession | undefined;
  try {
    ort.env.logLevel = 'fatal';
    session = await ort.InferenceSession.create(g.toBytes({ '': 21 }), { executionProviders: ['webgpu'] });
    const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, -2]), [2]) });
    if ((y!.data as Float32Array)[1] !== 2) throw new Error('a WebGPU test graph returned a wrong value');
    return { available: true, driver };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!isMissingDevice(message)) return { available: true, driver };
    return {
      available: false,
      reason: `no WebGPU adapter (${message.split('\n')[0]!.slice(-120)}). Install Debian's chromium (SwiftShader Vulkan driver) or a GPU driver with Vulkan`,
    };
  } finally {
    await session?.release();
  }
}

/** Sets the environment up once per process and reports whether WebGPU runs here. */
export function prepareWebGpu(): Promise<WebGpuAvailability> {
  cached ??= probe().then((result) => {
    if (!result.available && process.env.TRAITLENS_REQUIRE_WEBGPU === '1')
      throw new Error(`TRAITLENS_REQUIRE_WEBGPU=1 but ${result.reason}`);
    if (!result.available) console.warn(`skipping WebGPU tests: ${result.reason}`);
    return result;
  });
  return cached;
}
