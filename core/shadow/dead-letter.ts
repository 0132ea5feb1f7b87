import type { ConsumedRecord, StreamRecord } from '../kafka/adapter';
import { clipUtf8, fitRecord } from '../kafka/record-size';

/** Longest reason kept in a header: reasons quote server messages, which can be long. */
const maxReasonBytes = 1024;

/** Where a record came from, as one header value: `topic/partition/offset` (topic names have no "/"). */
export const sourceOf = (r: ConsumedRecord): string => `${r.topic}/${r.partition}/${r.offset}`;

/**
 * The dead-letter copy of a record: its key and value with the reason and its position in
 * headers. A copy that would not fit the dead-letter topic (a record near the input topic's
 * limit, plus these headers, or a larger input limit) is clipped to fit, marked
 * `mloop-truncated` with the original sizes, so one record can never stop a test.
 */
export function deadLetterRecord(r: ConsumedRecord, reason: string, maxBytes: number): StreamRecord {
  return fitRecord(
    {
      key: r.key,
      value: r.value,
      headers: {
        'mloop-reason': clipUtf8(reason, maxReasonBytes),
        'mloop-source': sourceOf(r),
        'mloop-source-topic': r.topic,
        'mloop-source-partition': String(r.partition),
        'mloop-source-offset': r.offset,
      },
    },
    maxBytes,
  );
}
