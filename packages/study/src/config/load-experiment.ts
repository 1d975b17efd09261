import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { promptSetsDirectory, traitDatasetsDirectory } from '@traitlens/datasets';
import { tinyOrganismPaths } from '../models/create-tiny-organism';
import { type ExperimentConfig, parseExperimentConfig, type RuntimeConfig } from './experiment-config';

/** An experiment config with every path resolved: what the pipeline runs. */
export interface Experiment {
  config: ExperimentConfig;
  /** The YAML file. */
  file: string;
  /** The experiment folder every stage writes into. */
  directory: string;
  /** The model sources as loadModel takes them (tiny:* and relative folders resolved); absent when unused. */
  sources: { extraction?: string; instruct: string; lora?: string };
  /** Runtime options per loaded model (top-level block with the model's overrides on top). */
  runtime: { extraction: RuntimeConfig; instruct: RuntimeConfig };
  /** Folder of the generated tiny organism, when the config asks for one. */
  tinyOrganismDirectory?: string;
  datasetsDirectory: string;
  promptSetDirectory: string;
  annotationsFile?: string;
}

export interface LoadExperimentOptions {
  /** Overrides the output folder of the config. */
  output?: string;
}

function resolveSource(source: string, configDirectory: string, tinyDirectory: string | undefined): string {
  if (source.startsWith('hf:')) return source;
  if (source.startsWith('tiny:')) {
    const paths = tinyOrganismPaths(tinyDirectory!);
    return paths[source.slice('tiny:'.length) as keyof typeof paths];
  }
  return isAbsolute(source) ? source : resolve(configDirectory, source);
}

/** Reads, validates and resolves an experiment YAML file (paths relative to the file). */
export async function loadExperiment(file: string, options: LoadExperimentOptions = {}): Promise<Experiment> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `Experiment config not found: ${file}. Pass an experiment YAML file (see docs/study.md).`,
      { cause, details: { file } },
    );
  }
  const config = parseExperimentConfig(text, path);
  const configDirectory = dirname(path);
  const directory = options.output
    ? resolve(options.output)
    : resolve(configDirectory, config.output ?? config.name);
  const tinyOrganismDirectory = config.tinyOrganism
    ? join(directory, config.tinyOrganism.directory)
    : undefined;
  const relative = (value: string) => (isAbsolute(value) ? value : resolve(configDirectory, value));
  const withCache = (runtime: RuntimeConfig): RuntimeConfig =>
    runtime.cacheDirectory ? { ...runtime, cacheDirectory: relative(runtime.cacheDirectory) } : runtime;
  const experiment: Experiment = {
    config,
    file: path,
    directory,
    sources: {
      ...(config.models.extraction
        ? {
            extraction: resolveSource(
              config.models.extraction.source,
              configDirectory,
              tinyOrganismDirectory,
            ),
          }
        : {}),
      instruct: resolveSource(config.models.instruct.source, configDirectory, tinyOrganismDirectory),
      ...(config.models.lora
        ? { lora: resolveSource(config.models.lora.source, configDirectory, tinyOrganismDirectory) }
        : {}),
    },
    runtime: {
      extraction: withCache({ ...config.runtime, ...config.models.extraction?.runtime }),
      instruct: withCache({ ...config.runtime, ...config.models.instruct.runtime }),
    },
    // Left out, the data sets are those of the installed @traitlens/datasets package.
    datasetsDirectory: config.stages.extract?.datasets
      ? relative(config.stages.extract.datasets)
      : traitDatasetsDirectory,
    promptSetDirectory: config.stages.capture?.promptSetDirectory
      ? relative(config.stages.capture.promptSetDirectory)
      : promptSetsDirectory,
  };
  if (tinyOrganismDirectory) experiment.tinyOrganismDirectory = tinyOrganismDirectory;
  if (config.stages.label?.annotations)
    experiment.annotationsFile = relative(config.stages.label.annotations);
  return experiment;
}
