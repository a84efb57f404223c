/**
 * Every fuzz target, in the order main.ts and tests/fuzz_test.ts run them.
 * @module
 */
import type { AnyTarget } from "./harness.ts";
import { ipParse } from "./targets/ip_parse.ts";
import { messageParse } from "./targets/message_parse.ts";
import { replay } from "./targets/replay.ts";
import { allowedIps } from "./targets/allowed_ips.ts";
import { configParse } from "./targets/config_parse.ts";
import { uapiParse } from "./targets/uapi_parse.ts";
import { tunSegment } from "./targets/tun_segment.ts";
import { tunGroPlan } from "./targets/tun_gro_plan.ts";

export const TARGETS: readonly AnyTarget[] = [
  ipParse,
  messageParse,
  replay,
  allowedIps,
  configParse,
  uapiParse,
  tunSegment,
  tunGroPlan,
];
