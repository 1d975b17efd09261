/** The `formatVersion` of every file under `analysis/`. */
export const analysisFormatVersion = '1';
