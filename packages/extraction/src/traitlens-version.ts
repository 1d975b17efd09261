import packageJson from '../package.json' with { type: 'json' };

/** This package's version, written into every vector file and evaluation. */
export const traitlensVersion: string = packageJson.version;
