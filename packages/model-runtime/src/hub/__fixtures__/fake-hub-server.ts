import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Test-only: a Hugging Face Hub on 127.0.0.1 speaking the endpoints @huggingface/hub and traitlens call,
 * with the headers the real Hub sends:
 * - GET  /api/models/{repo}/revision/{rev}   model info with `sha` and `siblings`
 * - GET  /api/models/{repo}/tree/{rev}       file listing: git `oid`, `size`, `lfs: {oid (sha256), size}`
 * - HEAD|GET /{repo}/resolve/{rev}/{file}    X-Repo-Commit, ETag (git oid, quoted); LFS files answer 302
 *   to a CDN on another origin with X-Linked-Etag (sha256) and X-Linked-Size, as the Hub does
 * - errors with X-Error-Code: RepoNotFound (401 without a token), RevisionNotFound, EntryNotFound,
 *   GatedRepo (401 without a token, 403 with a token that has no access)
 * Range requests (206, 416) work on both origins. Faults can be injected per path.
 */
export interface FakeRepoOptions {
  /** Files of the first commit (on `branch`). */
  files: Record<string, string | Uint8Array>;
  branch?: string;
  /** Downloads need `Authorization: Bearer <token>`; metadata stays public, as on the Hub. */
  gated?: boolean;
  /** Everything needs the token; without it the repo looks missing (401 RepoNotFound). */
  private?: boolean;
  token?: string;
}

export type FakeFault =
  | { kind: 'status'; status: number; times: number }
  /** Sends headers and the first `afterBytes` bytes of the body, then destroys the socket. */
  | { kind: 'drop'; afterBytes: number; times: number }
  /** Accepts the request and never answers. */
  | { kind: 'hang'; times: number }
  /** Flips one byte of the body. */
  | { kind: 'corrupt'; times: number };

export interface RecordedRequest {
  origin: 'hub' | 'cdn';
  method: string;
  path: string;
  range: string | undefined;
  authorization: string | undefined;
}

interface FakeRepo {
  commits: Map<string, Map<string, Uint8Array>>;
  refs: Map<string, string>;
  gated: boolean;
  private: boolean;
  token: string | undefined;
}

/** Files stored with Git LFS on the Hub (what `.gitattributes` marks by default for weights). */
function isLfsFile(path: string): boolean {
  return /\.(safetensors|bin|pt|pth|ckpt|gguf|onnx)$/.test(path);
}

export function gitBlobOid(content: Uint8Array): string {
  return createHash('sha1').update(`blob ${content.byteLength}\0`).update(content).digest('hex');
}

export function sha256Hex(content: Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

function toBytes(content: string | Uint8Array): Uint8Array {
  return typeof content === 'string' ? new TextEncoder().encode(content) : content;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export class FakeHubServer {
  readonly requests: RecordedRequest[] = [];
  private readonly repos = new Map<string, FakeRepo>();
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly faults: { matches: (request: RecordedRequest) => boolean; fault: FakeFault }[] = [];
  private commitCounter = 0;

  private constructor(
    private readonly hubServer: Server,
    private readonly cdnServer: Server,
    readonly endpoint: string,
    readonly cdnOrigin: string,
  ) {}

  static async start(): Promise<FakeHubServer> {
    let instance: FakeHubServer | undefined;
    const hub = createServer((request, response) => instance!.handle('hub', request, response));
    const cdn = createServer((request, response) => instance!.handle('cdn', request, response));
    const [endpoint, cdnOrigin] = await Promise.all([listen(hub), listen(cdn)]);
    instance = new FakeHubServer(hub, cdn, endpoint, cdnOrigin);
    return instance;
  }

  async close(): Promise<void> {
    for (const server of [this.hubServer, this.cdnServer]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** Adds a repo with one commit and returns the commit sha. */
  addRepo(name: string, options: FakeRepoOptions): string {
    this.repos.set(name, {
      commits: new Map(),
      refs: new Map(),
      gated: options.gated ?? false,
      private: options.private ?? false,
      token: options.token,
    });
    return this.addCommit(name, options.files, options.branch ?? 'main');
  }

  /** Adds a commit with these files and moves `branch` to it. */
  addCommit(name: string, files: Record<string, string | Uint8Array>, branch = 'main'): string {
    const repo = this.repos.get(name)!;
    const commit = createHash('sha1')
      .update(`${name}:${++this.commitCounter}`)
      .digest('hex');
    const stored = new Map<string, Uint8Array>();
    for (const [path, content] of Object.entries(files)) {
      const bytes = toBytes(content);
      stored.set(path, bytes);
      if (isLfsFile(path)) this.blobs.set(sha256Hex(bytes), bytes);
    }
    repo.commits.set(commit, stored);
    repo.refs.set(branch, commit);
    return commit;
  }

  /** Applies a fault to the next `times` requests whose path (without query) ends with `pathSuffix`. */
  injectFault(pathSuffix: string, fault: FakeFault, origin?: 'hub' | 'cdn'): void {
    this.faults.push({
      matches: (request) =>
        request.path.endsWith(pathSuffix) && (origin === undefined || request.origin === origin),
      fault: { ...fault },
    });
  }

  /** The URL path, without query, of a repo file on the CDN (LFS files only). */
  cdnPathOf(content: Uint8Array): string {
    return `/blobs/${sha256Hex(content)}`;
  }

  private takeFault(request: RecordedRequest): FakeFault | undefined {
    const entry = this.faults.find((item) => item.fault.times > 0 && item.matches(request));
    if (!entry) return undefined;
    entry.fault.times--;
    return entry.fault;
  }

  private handle(origin: 'hub' | 'cdn', request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://fake');
    const recorded: RecordedRequest = {
      origin,
      method: request.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      range: request.headers.range,
      authorization: request.headers.authorization,
    };
    this.requests.push(recorded);
    const fault = this.takeFault(recorded);
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'status') {
      response.writeHead(fault.status, { 'content-type': 'text/plain' }).end(`injected ${fault.status}`);
      return;
    }
    if (origin === 'cdn') {
      const content = this.blobs.get(recorded.path.replace(/^\/blobs\//, ''));
      if (content) this.sendContent(request, response, content, {}, fault);
      else this.sendError(response, 404, 'EntryNotFound', 'no such blob');
      return;
    }
    const apiMatch = /^\/api\/models\/(.+)\/(revision|tree)\/(.+)$/.exec(recorded.path);
    const resolveMatch = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(recorded.path);
    if (apiMatch)
      this.handleApi(
        request,
        response,
        apiMatch[1]!,
        apiMatch[2] as 'revision' | 'tree',
        apiMatch[3]!,
        fault,
      );
    else if (resolveMatch)
      this.handleResolve(request, response, resolveMatch[1]!, resolveMatch[2]!, resolveMatch[3]!, fault);
    else this.sendError(response, 404, undefined, 'unknown route');
  }

  private authorized(repo: FakeRepo, request: IncomingMessage): boolean {
    return repo.token !== undefined && request.headers.authorization === `Bearer ${repo.token}`;
  }

  /** The repo and commit for a request, or an error already sent. */
  private lookup(
    request: IncomingMessage,
    response: ServerResponse,
    name: string,
    revision: string,
  ): { repo: FakeRepo; commit: string; files: Map<string, Uint8Array> } | undefined {
    const repo = this.repos.get(name);
    if (!repo || (repo.private && !this.authorized(repo, request))) {
      // Like the Hub: without valid credentials a private repo and a missing one look the same.
      this.sendError(
        response,
        request.headers.authorization ? 404 : 401,
        'RepoNotFound',
        'Repository not found',
      );
      return undefined;
    }
    const commit = repo.refs.get(revision) ?? (repo.commits.has(revision) ? revision : undefined);
    if (!commit) {
      this.sendError(response, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
      return undefined;
    }
    return { repo, commit, files: repo.commits.get(commit)! };
  }

  private handleApi(
    request: IncomingMessage,
    response: ServerResponse,
    name: string,
    kind: 'revision' | 'tree',
    rest: string,
    fault: FakeFault | undefined,
  ): void {
    const revision = kind === 'tree' ? rest.split('/')[0]! : rest;
    const found = this.lookup(request, response, name, revision);
    if (!found) return;
    let body: unknown;
    if (kind === 'revision') {
      body = {
        _id: createHash('md5').update(name).digest('hex').slice(0, 24),
        id: name,
        private: found.repo.private,
        gated: found.repo.gated ? 'manual' : false,
        sha: found.commit,
        siblings: [...found.files.keys()].map((rfilename) => ({ rfilename })),
        lastModified: '2025-01-01T00:00:00.000Z',
        likes: 0,
        downloads: 0,
        pipeline_tag: 'text-generation',
      };
    } else {
      const folder = rest.split('/').slice(1).join('/');
      const recursive = new URL(request.url ?? '/', 'http://fake').searchParams.get('recursive') === 'true';
      const entries: unknown[] = [];
      const folders = new Set<string>();
      for (const [path, content] of found.files) {
        if (folder !== '' && !path.startsWith(`${folder}/`)) continue;
        const inside = folder === '' ? path : path.slice(folder.length + 1);
        if (!recursive && inside.includes('/')) {
          folders.add(`${folder === '' ? '' : `${folder}/`}${inside.split('/')[0]}`);
          continue;
        }
        entries.push({
          type: 'file',
          oid: isLfsFile(path)
            ? gitBlobOid(
                toBytes(
                  `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256Hex(content)}\nsize ${content.byteLength}\n`,
                ),
              )
            : gitBlobOid(content),
          size: content.byteLength,
          path,
          ...(isLfsFile(path)
            ? { lfs: { oid: sha256Hex(content), size: content.byteLength, pointerSize: 134 } }
            : {}),
        });
      }
      for (const path of folders)
        entries.push({
          type: 'directory',
          oid: createHash('sha1').update(path).digest('hex'),
          size: 0,
          path,
        });
      body = entries;
    }
    const text = Buffer.from(JSON.stringify(body));
    this.sendContent(request, response, text, { 'content-type': 'application/json; charset=utf-8' }, fault);
  }

  private handleResolve(
    request: IncomingMessage,
    response: ServerResponse,
    name: string,
    revision: string,
    file: string,
    fault: FakeFault | undefined,
  ): void {
    const found = this.lookup(request, response, name, revision);
    if (!found) return;
    if (found.repo.gated && !this.authorized(found.repo, request)) {
      const withToken = request.headers.authorization !== undefined;
      this.sendError(
        response,
        withToken ? 403 : 401,
        'GatedRepo',
        withToken
          ? 'Access to this model is restricted. You must be authenticated and have accepted the conditions.'
          : 'Access to model is restricted. You must be authenticated to access it.',
      );
      return;
    }
    const content = found.files.get(file);
    if (!content) {
      this.sendError(response, 404, 'EntryNotFound', `${file} does not exist`);
      return;
    }
    const headers: Record<string, string> = { 'x-repo-commit': found.commit };
    if (isLfsFile(file)) {
      const sha = sha256Hex(content);
      response.writeHead(302, {
        ...headers,
        etag: `"${gitBlobOid(content)}"`,
        'x-linked-etag': `"${sha}"`,
        'x-linked-size': String(content.byteLength),
        location: `${this.cdnOrigin}${this.cdnPathOf(content)}`,
      });
      response.end();
      return;
    }
    this.sendContent(request, response, content, { ...headers, etag: `"${gitBlobOid(content)}"` }, fault);
  }

  private sendError(
    response: ServerResponse,
    status: number,
    errorCode: string | undefined,
    message: string,
  ): void {
    response.writeHead(status, {
      'content-type': 'application/json',
      ...(errorCode ? { 'x-error-code': errorCode } : {}),
      'x-error-message': message,
    });
    response.end(JSON.stringify({ error: message }));
  }

  private sendContent(
    request: IncomingMessage,
    response: ServerResponse,
    content: Uint8Array,
    headers: Record<string, string>,
    fault: FakeFault | undefined,
  ): void {
    let body = Buffer.from(content);
    if (fault?.kind === 'corrupt') {
      body = Buffer.from(body);
      body[body.length >> 1] = body[body.length >> 1]! ^ 0xff;
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
    let status = 200;
    let start = 0;
    let end = body.length - 1;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
      if (start >= body.length) {
        response.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${body.length}`;
    }
    const slice = body.subarray(start, end + 1);
    response.writeHead(status, {
      ...headers,
      'accept-ranges': 'bytes',
      'content-length': String(slice.length),
    });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    if (fault?.kind === 'drop') {
      response.write(slice.subarray(0, fault.afterBytes), () => {
        // Give the bytes a moment to leave before the connection is cut, as a real mid-transfer drop would.
        setTimeout(() => response.socket?.destroy(), 20);
      });
      return;
    }
    response.end(slice);
  }
}
