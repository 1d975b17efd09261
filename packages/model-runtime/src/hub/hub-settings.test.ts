import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultHubCacheDir, resolveHubSettings } from './hub-settings';

describe('resolveHubSettings', () => {
  const noTokenFile = { HF_TOKEN_PATH: join(tmpdir(), 'traitlens-no-such-token-file') };

  it('defaults to huggingface.co and the Python cache location', () => {
    const settings = resolveHubSettings({}, { HOME: homedir(), ...noTokenFile });
    expect(settings).toMatchObject({
      endpoint: 'https://huggingface.co',
      token: undefined,
      offline: false,
      cacheDir: join(homedir(), '.cache', 'huggingface', 'hub'),
      retries: 5,
    });
  });

  it('reads the same variables as Python, in the same order', () => {
    expect(defaultHubCacheDir({ HF_HUB_CACHE: '/a', HF_HOME: '/b' })).toBe('/a');
    expect(defaultHubCacheDir({ HUGGINGFACE_HUB_CACHE: '/c', HF_HOME: '/b' })).toBe('/c');
    expect(defaultHubCacheDir({ HF_HOME: '/b', XDG_CACHE_HOME: '/x' })).toBe(join('/b', 'hub'));
    expect(defaultHubCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'huggingface', 'hub'));
    const settings = resolveHubSettings(
      {},
      {
        HF_ENDPOINT: 'https://hf-mirror.example/',
        HF_TOKEN: 'hf_abc',
        HF_HUB_OFFLINE: 'TRUE',
        HF_HUB_ETAG_TIMEOUT: '5',
        HF_HUB_DOWNLOAD_TIMEOUT: '7',
      },
    );
    expect(settings).toMatchObject({
      endpoint: 'https://hf-mirror.example',
      token: 'hf_abc',
      offline: true,
      requestTimeoutMs: 5000,
      stallTimeoutMs: 7000,
    });
  });

  it('options win over the environment', () => {
    const settings = resolveHubSettings(
      { endpoint: 'http://127.0.0.1:1', token: 'hf_option', offline: false, cacheDir: '/cache' },
      { HF_ENDPOINT: 'https://x', HF_TOKEN: 'hf_env', HF_HUB_OFFLINE: '1' },
    );
    expect(settings).toMatchObject({
      endpoint: 'http://127.0.0.1:1',
      token: 'hf_option',
      offline: false,
      cacheDir: '/cache',
    });
  });

  it('uses the token file `hf auth login` writes when HF_TOKEN is unset', async () => {
    const home = await mkdtemp(join(tmpdir(), 'traitlens-hf-home-'));
    try {
      await writeFile(join(home, 'token'), 'hf_from_file\n');
      expect(resolveHubSettings({}, { HF_HOME: home }).token).toBe('hf_from_file');
      expect(resolveHubSettings({}, { HF_HOME: home, HF_TOKEN: 'hf_env' }).token).toBe('hf_env');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('rejects malformed values with the variable named', () => {
    expect(() => resolveHubSettings({}, { HF_HUB_ETAG_TIMEOUT: 'soon' })).toThrow(/HF_HUB_ETAG_TIMEOUT/);
    expect(() => resolveHubSettings({ endpoint: 'not a url' }, {})).toThrow(/HF_ENDPOINT/);
    expect(() => resolveHubSettings({ retries: -1 }, {})).toThrow(/retries/);
  });
});
