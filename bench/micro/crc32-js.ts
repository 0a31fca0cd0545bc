/** A plain table-driven CRC-32 (IEEE, reflected, polynomial 0xEDB88320): the JS baseline for native.crc32. */
const table = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  table[n] = c;
}

export function crc32Js(buf: Uint8Array, offset: number, length: number): number {
  let crc = -1;
  const end = offset + length;
  for (let i = offset; i < end; i++) crc = table[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
