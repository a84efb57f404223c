import assert from "node:assert/strict";
import {
  COOKIE_REPLY,
  INITIATION,
  messageType,
  readU32LE,
  RESPONSE,
  writeU32LE,
} from "../src/wg/messages.ts";

Deno.test("message layouts add up to the whitepaper's sizes (148, 92, 64)", () => {
  assert.equal(INITIATION.EPHEMERAL + 32, INITIATION.STATIC);
  assert.equal(INITIATION.STATIC + INITIATION.STATIC_LEN, INITIATION.TIMESTAMP);
  assert.equal(INITIATION.TIMESTAMP + INITIATION.TIMESTAMP_LEN, INITIATION.MAC1);
  assert.equal(INITIATION.MAC2 + 16, INITIATION.SIZE);
  assert.equal(INITIATION.SIZE, 148);
  assert.equal(RESPONSE.EPHEMERAL + 32, RESPONSE.EMPTY);
  assert.equal(RESPONSE.EMPTY + RESPONSE.EMPTY_LEN, RESPONSE.MAC1);
  assert.equal(RESPONSE.MAC2 + 16, RESPONSE.SIZE);
  assert.equal(RESPONSE.SIZE, 92);
  assert.equal(COOKIE_REPLY.NONCE + 24, COOKIE_REPLY.COOKIE);
  assert.equal(COOKIE_REPLY.COOKIE + COOKIE_REPLY.COOKIE_LEN, COOKIE_REPLY.SIZE);
  assert.equal(COOKIE_REPLY.SIZE, 64);
});

Deno.test("LE u32 accessors and the reserved-bytes rule of messageType", () => {
  const b = new Uint8Array(8);
  writeU32LE(b, 4, 0xdeadbeef);
  assert.deepEqual(b.subarray(4), Uint8Array.of(0xef, 0xbe, 0xad, 0xde));
  assert.equal(readU32LE(b, 4), 0xdeadbeef);
  b.set([1, 0, 0, 0]);
  assert.equal(messageType(b), 1);
  b[3] = 1; // non-zero reserved byte: an unknown type
  assert.equal(messageType(b), 0x01000001);
  assert.equal(messageType(b, 3), -1);
});
