// MurmurHash2-64 exactly as libstdc++'s std::hash / _Hash_bytes computes it (Envoy's
// MurmurHash::murmurHash2 with STD_HASH_SEED), for RingHashLbConfig.hash_function MURMUR_HASH_2.
// BigInt arithmetic; used when rings are built (config time), not per request.

const MASK = 0xffff_ffff_ffff_ffffn;
const MURMUR_MUL = 0xc6a4a7935bd1e995n;
/** MurmurHash::STD_HASH_SEED in Envoy (libstdc++'s std::hash seed). */
export const STD_HASH_SEED = 0xc70f6907n;

const shiftMix = (v: bigint): bigint => v ^ (v >> 47n);

/** libstdc++ _Hash_bytes (64-bit MurmurHash2 variant) of the UTF-8 bytes of `input`. */
export function murmurHash2(input: string, seed = STD_HASH_SEED): bigint {
  const buf = Buffer.from(input, 'utf8');
  const len = buf.length;
  const aligned = len & ~7;
  let hash = seed ^ ((BigInt(len) * MURMUR_MUL) & MASK);
  for (let i = 0; i < aligned; i += 8) {
    const data = (shiftMix((buf.readBigUInt64LE(i) * MURMUR_MUL) & MASK) * MURMUR_MUL) & MASK;
    hash = ((hash ^ data) * MURMUR_MUL) & MASK;
  }
  if ((len & 7) !== 0) {
    let data = 0n;
    for (let i = len - 1; i >= aligned; i--) data = (data << 8n) + BigInt(buf[i]!);
    hash = ((hash ^ data) * MURMUR_MUL) & MASK;
  }
  hash = (shiftMix(hash) * MURMUR_MUL) & MASK;
  return shiftMix(hash);
}
