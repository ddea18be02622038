/** A requestId used a second time in one batch, for a different event. */
export interface RepeatedRequestId {
  requestId: string;
  /** Positions in the batch: where it was first used, and where again. */
  first: number;
  again: number;
}

/**
 * The requestIds of one batch that name two different events (`same(i, j)` says
 * whether events i and j are one event). Such a batch can only be refused: storing
 * one of them would make the other a conflict with an index that nothing in the
 * request was stored at. The same event twice is a repeat, stored once, as across
 * requests. One Map insert per event; `same` is called only on a repeat.
 */
export function repeatedRequestIds(requestIds: readonly string[], same: (first: number, again: number) => boolean): RepeatedRequestId[] {
  const repeated: RepeatedRequestId[] = [];
  if (requestIds.length < 2) return repeated;
  const firstAt = new Map<string, number>();
  requestIds.forEach((requestId, i) => {
    const first = firstAt.get(requestId);
    if (first === undefined) firstAt.set(requestId, i);
    else if (!same(first, i)) repeated.push({ requestId, first, again: i });
  });
  return repeated;
}
