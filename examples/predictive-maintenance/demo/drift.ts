import type { SensorReading } from '../data/sensors';

/**
 * The injected drift: the plant's machines run hotter, shake more and lose pressure. Three of the
 * five features move by about two standard deviations, so the share of drifted features (0.6)
 * passes the dataset-drift threshold of 0.5 and the check's verdict starts a retraining.
 */
export const driftShift = { temperature_c: 15, vibration_mm_s: 3, pressure_bar: -1.2 } as const;

export function shiftReading(r: SensorReading): SensorReading {
  return {
    ...r,
    temperature_c: round(r.temperature_c + driftShift.temperature_c, 2),
    vibration_mm_s: round(r.vibration_mm_s + driftShift.vibration_mm_s, 3),
    pressure_bar: round(Math.max(0, r.pressure_bar + driftShift.pressure_bar), 3),
  };
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));
