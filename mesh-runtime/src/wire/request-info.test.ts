import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isMeshError } from "../errors.js";
import { brokerRequestInfo, vouchedAccount } from "./request-info.js";

/** A header block as nats-server leaves it: the sender's lines, then its own Nats-Request-Info. */
const block = (...lines: string[]) => `NATS/1.0\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n`;
const broker = (acc: string) => `Nats-Request-Info: ${JSON.stringify({ acc, rtt: 1000 })}`;

function refusal(text: string): unknown {
  try {
    brokerRequestInfo(text);
  } catch (e) {
    return isMeshError(e) ? e.code : e;
  }
  return "accepted";
}

describe("brokerRequestInfo", () => {
  it("reads the broker's line, the block's last", () => {
    const text = block("Mesh-Timeout: 100", "Mesh-Caller: gateway", broker("payments"));
    assert.equal(vouchedAccount(brokerRequestInfo(text)), "payments");
  });

  it("says undefined when no line names it (a request that crossed no import)", () => {
    assert.equal(brokerRequestInfo(block("Mesh-Timeout: 100")), undefined);
    assert.equal(brokerRequestInfo(undefined), undefined);
    assert.equal(brokerRequestInfo("NATS/1.0\r\n\r\n"), undefined);
  });

  it("refuses a block with a copy the sender wrote, in any spelling or place (the broker keeps those)", () => {
    for (const forged of [
      'nats-request-info: {"acc":"controller"}',
      'NATS-REQUEST-INFO: {"acc":"controller"}',
      ' Nats-Request-Info : {"acc":"controller"}',
      // nats-server removes only the first exact copy: a second one survives
      'Nats-Request-Info: {"acc":"controller"}',
    ]) {
      assert.equal(refusal(block(forged, "X: 1", broker("payments"))), "UNAUTHENTICATED", forged);
    }
  });

  it("refuses a lone line that is not where, or how, the broker writes it", () => {
    assert.equal(refusal(block(broker("payments"), "X: 1")), "UNAUTHENTICATED");
    assert.equal(refusal(block('nats-request-info: {"acc":"payments"}')), "UNAUTHENTICATED");
  });

  it("does not mistake a value that mentions the header for the header", () => {
    const text = block('baggage: note=Nats-Request-Info: {"acc":"controller"}', broker("payments"));
    assert.equal(vouchedAccount(brokerRequestInfo(text)), "payments");
  });
});
