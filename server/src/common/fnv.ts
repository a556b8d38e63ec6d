// FNV-1a run twice side by side (two offset bases, the two primes swapped): 64 bits that catch
// a torn or damaged cache file at a fraction of SHA-256's cost and without node's crypto
// module (its first require costs a cold process ~6 ms). Not a defence against forgery.

/** The two 32-bit lanes over bytes, or over a string's UTF-16 code units. */
export function fnvLanes(data: Uint8Array | string): [number, number] {
  const at = typeof data === 'string' ? (i: number) => data.charCodeAt(i) : (i: number) => data[i];
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < data.length; i++) {
    a = Math.imul(a ^ at(i), 0x01000193) >>> 0;
    b = Math.imul(b ^ at(i), 0x811c9dc5) >>> 0;
  }
  return [a, b];
}

/** The lanes as 16 hex digits. */
export function fnvHex(data: Uint8Array | string): string {
  return fnvLanes(data)
    .map((x) => x.toString(16).padStart(8, '0'))
    .join('');
}
