// Seeds for layers and init functions given none (src/init.ts makes the tables).

/** A seed for layers constructed without one (like torch's default generator, not reproducible). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x100000000) * 0x200000 + Math.floor(Math.random() * 0x200000);
}
