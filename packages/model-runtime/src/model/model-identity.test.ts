import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { computeModelIdentity } from './model-identity';

const folders: string[] = [];
afterEach(async () => {
  await Promise.all(folders.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
});

async function scratch(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'traitlens-identity-'));
  folders.push(folder);
  return folder;
}

async function writeModel(directory: string, weights: Uint8Array): Promise<void> {
  await mkdir(directory, { recursive: true });
  await writeFile(join(directory, 'config.json'), '{"architectures":["LlamaForCausalLM"]}\n');
  await writeFile(join(directory, 'model.safetensors'), weights);
  await writeFile(join(directory, 'README.md'), 'not part of the identity\n');
}

/** sha256sum(1) of a file: the reference the identity is checked against. */
function sha256sum(path: string): string {
  return execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0]!;
}

describe('computeModelIdentity', () => {
  it('is the same for copies at different paths, and is SHA-256 over "<name> <sha256sum>" lines', async () => {
    const root = await scratch();
    const cache = join(root, 'cache');
    const weights = Uint8Array.from({ length: 4096 }, (_, index) => (index * 7) % 251);
    await writeModel(join(root, 'a'), weights);
    await cp(join(root, 'a'), join(root, 'elsewhere', 'b'), { recursive: true });
    const first = await computeModelIdentity(join(root, 'a'), { cacheDirectory: cache });
    const second = await computeModelIdentity(join(root, 'elsewhere', 'b'), { cacheDirectory: cache });
    expect(second).toBe(first);
    const listing = `config.json ${sha256sum(join(root, 'a', 'config.json'))}\nmodel.safetensors ${sha256sum(join(root, 'a', 'model.safetensors'))}\n`;
    const listingFile = join(root, 'listing.txt');
    await writeFile(listingFile, listing);
    expect(first).toBe(`sha256:${sha256sum(listingFile)}`);
  });

  it('differs when one weight byte differs', async () => {
    const root = await scratch();
    const weights = new Uint8Array(1024).fill(3);
    await writeModel(join(root, 'a'), weights);
    weights[512] = 4;
    await writeModel(join(root, 'b'), weights);
    const options = { cacheDirectory: join(root, 'cache') };
    expect(await computeModelIdentity(join(root, 'a'), options)).not.toBe(
      await computeModelIdentity(join(root, 'b'), options),
    );
  });

  it('names a Hugging Face cache snapshot by repo and commit, and keeps hf: ids and non-folders', async () => {
    const root = await scratch();
    const commit = 'a'.repeat(40);
    const snapshot = join(root, 'hub', 'models--meta-llama--Llama-3.1-8B', 'snapshots', commit);
    await writeModel(snapshot, new Uint8Array(16));
    expect(await computeModelIdentity(snapshot)).toBe(`hf:meta-llama/Llama-3.1-8B@${commit}`);
    expect(await computeModelIdentity(`hf:org/name@${commit}`)).toBe(`hf:org/name@${commit}`);
    expect(await computeModelIdentity('fake:model')).toBe('fake:model');
  });

  it('takes the hash of a file linked to a blob named by its SHA-256 from the name', async () => {
    const root = await scratch();
    const weights = Uint8Array.from({ length: 2048 }, (_, index) => index % 13);
    await writeModel(join(root, 'copy'), weights);
    const blobs = join(root, 'blobs');
    await mkdir(blobs);
    const blob = join(blobs, sha256sum(join(root, 'copy', 'model.safetensors')));
    await writeFile(blob, weights);
    await mkdir(join(root, 'linked'));
    await cp(join(root, 'copy', 'config.json'), join(root, 'linked', 'config.json'));
    await symlink(blob, join(root, 'linked', 'model.safetensors'));
    const options = { cacheDirectory: join(root, 'cache') };
    expect(await computeModelIdentity(join(root, 'linked'), options)).toBe(
      await computeModelIdentity(join(root, 'copy'), options),
    );
  });
});
