/**
 * The one place the fuzz suite imports the data plane's module and slab pool
 * from. When src/ is restructured (src/wasm/module.ts, src/wasm/slab.ts) only
 * these three lines change.
 * @module
 */
export { instantiate, type TunslabExports } from "../../src/wasm/module.ts";
export { SlabPool } from "../../src/wasm/slab.ts";
