/** The micro-benchmarks (`asyncio-ts bench`): being written. */
export interface BenchOptions {
  scale: number;
  only: string[];
  json: boolean;
  repeat: number;
  python: string | null | undefined;
  argv: string[];
}

export async function runBench(_options: BenchOptions): Promise<number> {
  process.stderr.write("asyncio-ts bench: not written yet\n");
  return 1;
}
