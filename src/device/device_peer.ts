/**
 * One peer of a running device: its protocol state (handshake, cookies,
 * timers, keypair rotation), configuration, and staged packets. The peer's
 * endpoint, counters, send keypair and AllowedIPs live in WASM under `id`.
 *
 * @example
 * ```ts
 * // const peer = new DevicePeer(3, local, cfgPeer, keypairSlots, now);
 * ```
 * @module
 */

import type { Cidr } from "../wg/cidr.ts";
import { CookieGenerator } from "../wg/cookie_generator.ts";
import { Handshake, type HasHandshake, type LocalStatic } from "../wg/handshake.ts";
import { KeypairRotation, type KeypairSlotAllocator } from "../wg/keypair_rotation.ts";
import { encodeBase64Key } from "../wg/keys.ts";
import { PeerTimers } from "../wg/timers.ts";
import { StagedQueue } from "./staged_queue.ts";
import type { EndpointHost } from "../resolve/endpoint_resolution.ts";

/** What a peer is configured with. */
export interface PeerConfig {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | null;
  allowedIps: Cidr[];
  persistentKeepalive: number;
}

/** Protocol state of one peer. */
export class DevicePeer implements HasHandshake {
  readonly id: number;
  readonly publicKey: Uint8Array;
  /** Base64 public key, for logs. */
  readonly name: string;
  readonly handshake: Handshake;
  /** mac1/mac2 stamping and the cookie, made at the first handshake message (see {@link cookies}). */
  #cookies: CookieGenerator | null = null;
  readonly timers: PeerTimers;
  readonly keypairs: KeypairRotation;
  readonly staged: StagedQueue = new StagedQueue();
  allowedIps: Cidr[];

  /** The peer's mac1/mac2 stamping and cookie (an idle peer of a big server never needs it). */
  get cookies(): CookieGenerator {
    return this.#cookies ??= new CookieGenerator(this.publicKey);
  }
  /** Clock time the last initiation went out, for the handshake RTT in logs. */
  initiationSentAt = -Infinity;
  /** Handshakes completed. */
  handshakes = 0;
  /** Data went out since the last timer tick (for the rekey-after-send check). */
  sentSinceTick = false;
  /** The endpoint's host name when it was given as one (looked up again while unanswered). */
  endpointHost: EndpointHost | null = null;
  /** When the last "no answer" warning went out (one per 30 s at most). */
  noAnswerWarnedAt = -Infinity;

  constructor(
    id: number,
    local: LocalStatic | null,
    cfg: PeerConfig,
    slots: KeypairSlotAllocator,
    now: () => number,
  ) {
    this.id = id;
    this.publicKey = new Uint8Array(cfg.publicKey);
    this.name = encodeBase64Key(this.publicKey);
    this.handshake = new Handshake(local, this.publicKey, cfg.presharedKey);
    this.timers = new PeerTimers({ now });
    this.keypairs = new KeypairRotation(slots, { now });
    this.allowedIps = [...cfg.allowedIps];
    this.timers.setPersistentKeepalive(cfg.persistentKeepalive);
  }
}
