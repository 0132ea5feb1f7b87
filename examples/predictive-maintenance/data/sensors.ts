/**
 * Deterministic synthetic sensor readings for the predictive-maintenance example. The same seed
 * gives the same rows on every machine (mulberry32 PRNG, no Math.random), so datasets, tests and
 * benchmarks are reproducible.
 */
export interface SensorReading {
  machine_id: string;
  temperature_c: number;
  vibration_mm_s: number;
  pressure_bar: number;
  rpm: number;
  operating_hours: number;
}

export interface LabelledReading extends SensorReading {
  failure: 0 | 1;
}

export const featureColumns = ['temperature_c', 'vibration_mm_s', 'pressure_bar', 'rpm', 'operating_hours'] as const;
export const csvColumns = ['machine_id', ...featureColumns, 'failure'] as const;

export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draw (Box–Muller). */
function normal(rng: () => number): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

/**
 * Failures grow likelier with heat, vibration, low pressure and wear; the intercept keeps the
 * base rate near 10%, the usual imbalance of maintenance data.
 */
export function failureProbability(r: SensorReading): number {
  const z =
    -5.8 +
    0.16 * (r.temperature_c - 70) +
    0.9 * (r.vibration_mm_s - 4) -
    1.5 * (r.pressure_bar - 5) +
    0.0002 * (r.operating_hours - 10_000);
  return 1 / (1 + Math.exp(-z));
}

export function generateReading(rng: () => number, machines = 200): SensorReading {
  const machine = Math.floor(rng() * machines);
  const wear = rng();
  return {
    machine_id: `M-${String(machine).padStart(4, '0')}`,
    temperature_c: round(70 + 8 * normal(rng) + 6 * wear, 2),
    vibration_mm_s: round(Math.max(0, 4 + 1.5 * normal(rng) + 1.5 * wear), 3),
    pressure_bar: round(5 + 0.6 * normal(rng) - 0.4 * wear, 3),
    rpm: round(1500 + 120 * normal(rng), 1),
    operating_hours: round(10_000 + 6_000 * wear + 1_000 * normal(rng), 0),
  };
}

export function generateLabelled(rng: () => number, machines = 200): LabelledReading {
  const reading = generateReading(rng, machines);
  return { ...reading, failure: rng() < failureProbability(reading) ? 1 : 0 };
}

export function toCsv(rows: Iterable<LabelledReading>): string {
  const lines = [csvColumns.join(',')];
  for (const r of rows) lines.push(csvColumns.map((c) => String(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}

export function* historicalRows(count: number, seed: number): Generator<LabelledReading> {
  const rng = createRng(seed);
  for (let i = 0; i < count; i++) yield generateLabelled(rng);
}
