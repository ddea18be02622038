/**
 * mulberry32: a small, fast, seeded PRNG returning floats in [0, 1), so a test world,
 * a failing run or a benchmark's sample can be repeated from its seed. The one copy
 * that tests and benchmarks share.
 */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
