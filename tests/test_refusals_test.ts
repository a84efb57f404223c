import { deepStrictEqual, throws } from "node:assert/strict";
import { testRefusals } from "../src/test_refusals.ts";

Deno.test("TUNSLAB_TEST_REFUSE: the words turn on their refusal; none by default; a typo is an error", () => {
  deepStrictEqual(testRefusals(undefined), { tunSetOffload: false, tunGsoWrite: false });
  deepStrictEqual(testRefusals(""), { tunSetOffload: false, tunGsoWrite: false });
  deepStrictEqual(testRefusals("tun_gso_write"), { tunSetOffload: false, tunGsoWrite: true });
  deepStrictEqual(testRefusals(" tunsetoffload , tun_gso_write"), {
    tunSetOffload: true,
    tunGsoWrite: true,
  });
  throws(() => testRefusals("tunsetofload"), /unknown refusal "tunsetofload"/);
});
