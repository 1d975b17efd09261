import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TraitlensError } from '../errors/traitlens-error';
import { SafetensorsFile, type SafetensorsTensorInfo } from './safetensors-file';

/**
 * A model checkpoint in safetensors: one `model.safetensors` or shards listed in
 * `model.safetensors.index.json` (`weight_map`: tensor name -> shard file). Shards open lazily, so reading
 * one tensor touches one file.
 */
export class SafetensorsCheckpoint {
  private readonly openFiles = new Map<string, Promise<SafetensorsFile>>();

  private constructor(
    readonly directory: string,
    private readonly weightMap: ReadonlyMap<string, string>,
    private readonly singleFile: SafetensorsFile | undefined,
  ) {}

  static async open(directory: string, fileName = 'model.safetensors'): Promise<SafetensorsCheckpoint> {
    const indexPath = join(directory, `${fileName}.index.json`);
    let indexText: string | undefined;
    try {
      indexText = await readFile(indexPath, 'utf8');
    } catch {
      indexText = undefined;
    }
    if (indexText === undefined) {
      const file = await SafetensorsFile.open(join(directory, fileName)).catch((error: unknown) => {
        if (TraitlensError.hasCode(error, 'FILE_NOT_FOUND')) {
          throw new TraitlensError(
            'FILE_NOT_FOUND',
            `No weights in ${directory}: expected ${fileName} or ${fileName}.index.json. Only safetensors checkpoints are supported; convert .bin/.pth weights first.`,
            { cause: error, details: { directory } },
          );
        }
        throw error;
      });
      return new SafetensorsCheckpoint(
        directory,
        new Map([...file.tensors.keys()].map((name) => [name, fileName])),
        file,
      );
    }
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(indexText) as typeof index;
    } catch (cause) {
      throw new TraitlensError('INVALID_SAFETENSORS', `${indexPath} is not valid JSON.`, {
        cause,
        details: { file: indexPath },
      });
    }
    if (!index.weight_map || typeof index.weight_map !== 'object') {
      throw new TraitlensError(
        'INVALID_SAFETENSORS',
        `${indexPath} has no "weight_map" object mapping tensor names to shard files.`,
        { details: { file: indexPath, field: 'weight_map' } },
      );
    }
    return new SafetensorsCheckpoint(directory, new Map(Object.entries(index.weight_map)), undefined);
  }

  get tensorNames(): string[] {
    return [...this.weightMap.keys()];
  }

  has(name: string): boolean {
    return this.weightMap.has(name);
  }

  /** The shard file holding a tensor, opened on first use. */
  async fileFor(name: string): Promise<SafetensorsFile> {
    const shard = this.weightMap.get(name);
    if (shard === undefined) {
      throw new TraitlensError(
        'INVALID_SAFETENSORS',
        `The checkpoint in ${this.directory} has no tensor "${name}". Is this the right architecture's checkpoint?`,
        { details: { directory: this.directory, tensor: name } },
      );
    }
    if (this.singleFile) return this.singleFile;
    let file = this.openFiles.get(shard);
    if (!file) {
      file = SafetensorsFile.open(join(this.directory, shard));
      this.openFiles.set(shard, file);
    }
    return file;
  }

  async info(name: string): Promise<SafetensorsTensorInfo> {
    return (await this.fileFor(name)).info(name);
  }

  async readFloat32(name: string): Promise<Float32Array> {
    return (await this.fileFor(name)).readFloat32(name);
  }

  async readRowsAsFloat32(name: string, rowStart: number, rowEnd: number): Promise<Float32Array> {
    return (await this.fileFor(name)).readRowsAsFloat32(name, rowStart, rowEnd);
  }

  async close(): Promise<void> {
    if (this.singleFile) await this.singleFile.close();
    for (const file of this.openFiles.values()) await (await file).close();
    this.openFiles.clear();
  }
}
