// An SMSC built on the npm `smpp` package's server (farhadi/node-smpp), for our tests.
// Prints JSON lines on stdout (listening, bind, submit, deliver_sm_resp); takes JSON
// lines on stdin ({"cmd": "mo", ...fields}). Answers every submit_sm with a hex id
// and, when a receipt is asked for, sends one (text and TLVs) right after.
//
// Faults for the chaos harness (tests/chaos), from `--faults JSON` or
// `--faults-file PATH` (all off by default):
//   throttle, queue_full   fractions of submit_sm answered ESME_RTHROTTLED (0x58)
//                          or ESME_RMSGQFUL (0x14) instead of being accepted
//   drop_every             after every Nth accepted submit_sm, cut the connection
//                          without answering it (mid-window: later PDUs are lost)
//   stall_every_ms, stall_ms   every so often stop answering for stall_ms: submits
//                          are accepted but their answers held, then sent (late) if
//                          the connection is still there (else never: unanswered)
//   receipt_delay_ms       [min, max] before a receipt is sent (default [0, 0])
//   receipt_repeat         fraction of receipts sent twice
//   receipt_early          fraction of receipts sent before the submit_sm_resp
//   resend_ms              a deliver_sm not answered by deliver_sm_resp is sent
//                          again after this long (default 10000); and, like a real
//                          SMSC, again on the next bind after its connection closed
//   log                    a JSON-lines file of what was seen, for counting: every
//                          submit_sm (status, destination, UDH ref/total/part, id,
//                          connection), receipt sent/acknowledged, binds, closes
//   seed                   for the fractions (default 1)
'use strict';
const fs = require('fs');
const smpp = require('smpp');
const readline = require('readline');

function option(name) {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const quiet = process.argv.includes('--quiet');
const faults = Object.assign(
  { throttle: 0, queue_full: 0, drop_every: 0, stall_every_ms: 0, stall_ms: 0,
    receipt_delay_ms: [0, 0], receipt_repeat: 0, receipt_early: 0, resend_ms: 10000,
    log: null, seed: 1 },
  option('--faults-file') ? JSON.parse(fs.readFileSync(option('--faults-file'))) : {},
  option('--faults') ? JSON.parse(option('--faults')) : {});

let seed = faults.seed >>> 0 || 1;
function random() {  // xorshift32: the same faults for the same seed
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed / 0x100000000;
}

const logFd = faults.log ? fs.openSync(faults.log, 'a') : null;
let logBuffer = [];
function log(event) {
  if (logFd === null) return;
  event.t = Date.now();
  logBuffer.push(JSON.stringify(event));
  if (logBuffer.length >= 200) flushLog();
}
function flushLog() {
  if (logFd === null || !logBuffer.length) return;
  fs.writeSync(logFd, logBuffer.join('\n') + '\n');
  logBuffer = [];
}
setInterval(flushLog, 100).unref();

const sessions = new Set();
let nextId = 0x1F0;
let nextConn = 1;
let accepted = 0;
const out = (event) => process.stdout.write(JSON.stringify(event) + '\n');
const hex = (buf) => Buffer.from(buf).toString('hex');

function body(value) {
  // The package decodes short_message / message_payload to {udh, message}.
  if (!value) return { udh: [], message: '' };
  if (Buffer.isBuffer(value)) return { udh: [], message: value.toString('latin1') };
  return { udh: (value.udh || []).map(hex), message: value.message };
}

function concat(udh) {
  // [ref, total, part] from a concatenation IE (8-bit 00 or 16-bit 08), or nulls.
  for (const ie of udh) {
    const b = Buffer.from(ie, 'hex');
    if (b[0] === 0x00 && b.length >= 5) return [b[2], b[3], b[4]];
    if (b[0] === 0x08 && b.length >= 6) return [b.readUInt16BE(2), b[4], b[5]];
  }
  return [null, null, null];
}

// Receipts and inbound messages not yet answered by deliver_sm_resp, by key.
const pending = new Map();
let nextDeliver = 1;

function bound() {
  return [...sessions].filter((s) => s.bound && !s.dead);
}

function sendDeliver(entry) {
  const targets = bound();
  const session = entry.prefer && entry.prefer.bound && !entry.prefer.dead
    ? entry.prefer : targets[0];
  entry.session = session || null;
  if (!session) return;  // kept: sent on the next bind
  entry.sentAt = Date.now();
  entry.sends += 1;
  if (entry.receipt) log({ e: 'receipt', id: entry.receipt, conn: session.conn,
                           n: entry.sends, dup: entry.dup || false });
  session.deliver_sm(entry.fields, (resp) => {
    if (resp.command_status !== 0) return;  // refused: sent again later
    if (pending.delete(entry.key) && entry.receipt) {
      log({ e: 'receipt_ack', id: entry.receipt, conn: session.conn });
    }
  });
}

function deliver(fields, receipt, prefer, dup) {
  const entry = { key: nextDeliver++, fields, receipt, prefer, sends: 0, dup,
                  session: null, sentAt: 0 };
  pending.set(entry.key, entry);
  sendDeliver(entry);
}

setInterval(() => {
  const now = Date.now();
  for (const entry of pending.values()) {
    const gone = !entry.session || entry.session.dead;
    if ((gone && bound().length) || (!gone && now - entry.sentAt >= faults.resend_ms)) {
      entry.prefer = null;
      sendDeliver(entry);
    }
  }
}, 250).unref();

function receiptFor(pdu, id) {
  return {
    source_addr: pdu.destination_addr, destination_addr: pdu.source_addr,
    esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
    short_message: 'id:' + id + ' sub:001 dlvrd:001 submit date:2501011200' +
      ' done date:2501011201 stat:DELIVRD err:000 text:',
    receipted_message_id: id, message_state: smpp.MESSAGE_STATE.DELIVERED,
  };
}

function scheduleReceipt(session, pdu, id) {
  const [low, high] = faults.receipt_delay_ms;
  const times = random() < faults.receipt_repeat ? 2 : 1;
  for (let i = 0; i < times; i++) {
    const delay = low + random() * (high - low);
    const send = () => deliver(receiptFor(pdu, id), id, session, i > 0);
    if (delay <= 0 && i === 0) send(); else setTimeout(send, delay + i * 200);
  }
}

let stalledUntil = 0;
if (faults.stall_every_ms > 0 && faults.stall_ms > 0) {
  setInterval(() => {
    stalledUntil = Date.now() + faults.stall_ms;
    log({ e: 'stall', ms: faults.stall_ms });
    setTimeout(() => {
      for (const session of sessions) {
        const held = session.held || [];
        session.held = [];
        for (const [resp, id] of held) {
          if (session.dead) log({ e: 'unanswered', id, conn: session.conn });
          else { log({ e: 'late_resp', id, conn: session.conn }); session.send(resp); }
        }
      }
    }, faults.stall_ms);
  }, faults.stall_every_ms).unref();
}

function onSubmit(session, pdu) {
  if (session.dead) return;  // PDUs read after we cut the connection
  const sm = body(pdu.short_message);
  const payload = body(pdu.message_payload);
  const [ref, total, part] = concat(sm.udh);
  const roll = random();
  let status = 0;
  if (roll < faults.throttle) status = smpp.ESME_RTHROTTLED;
  else if (roll < faults.throttle + faults.queue_full) status = smpp.ESME_RMSGQFUL;
  if (status) {
    log({ e: 'submit', status, dst: pdu.destination_addr, ref, total, part,
          conn: session.conn });
    session.send(pdu.response({ command_status: status }));
    return;
  }
  const id = (nextId++).toString(16).toUpperCase().padStart(8, '0');
  accepted += 1;
  const drop = faults.drop_every > 0 && accepted % faults.drop_every === 0;
  const stalled = Date.now() < stalledUntil;
  log({ e: 'submit', status: 0, dst: pdu.destination_addr, ref, total, part, id,
        conn: session.conn, answered: !drop && !stalled, dc: pdu.data_coding });
  if (!quiet) out({
    event: 'submit', message_id: id, sequence: pdu.sequence_number,
    esm_class: pdu.esm_class, data_coding: pdu.data_coding,
    registered_delivery: pdu.registered_delivery,
    source_addr: pdu.source_addr, source_addr_ton: pdu.source_addr_ton,
    source_addr_npi: pdu.source_addr_npi, destination_addr: pdu.destination_addr,
    dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi,
    validity_period: pdu.validity_period, udh: sm.udh, message: sm.message,
    payload: payload.message,
  });
  const wantReceipt = pdu.registered_delivery & 1;
  const early = wantReceipt && random() < faults.receipt_early;
  if (early) scheduleReceipt(session, pdu, id);  // before the submit_sm_resp
  if (drop) {
    log({ e: 'drop', conn: session.conn });
    session.dead = true;
    session.close();  // answers already written still go out; this one never
  } else if (stalled) {
    session.held = session.held || [];
    session.held.push([pdu.response({ message_id: id }), id]);
  } else {
    session.send(pdu.response({ message_id: id }));
  }
  if (wantReceipt && !early) scheduleReceipt(session, pdu, id);
}

const server = smpp.createServer((session) => {
  session.conn = nextConn++;
  session.on('bind_transceiver', (pdu) => {
    out({ event: 'bind', system_id: pdu.system_id, password: pdu.password,
          system_type: pdu.system_type });
    log({ e: 'bind', conn: session.conn });
    sessions.add(session);
    session.bound = true;
    session.send(pdu.response());
    // Like a real SMSC: what the last connection left unanswered comes again.
    for (const entry of pending.values()) {
      if (!entry.session || entry.session.dead) sendDeliver(entry);
    }
  });
  session.on('submit_sm', (pdu) => onSubmit(session, pdu));
  session.on('deliver_sm_resp', (pdu) => {
    out({ event: 'deliver_sm_resp', sequence: pdu.sequence_number,
          status: pdu.command_status });
  });
  session.on('enquire_link', (pdu) => {
    if (Date.now() >= stalledUntil) session.send(pdu.response());
  });
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  const gone = () => {
    if (!session.dead) log({ e: 'close', conn: session.conn });
    session.dead = true;
    sessions.delete(session);
  };
  session.on('close', gone);
  session.on('error', gone);
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line);
  if (command.cmd === 'mo') {
    const fields = Object.assign({}, command);
    delete fields.cmd;
    for (const session of bound()) deliver(fields, null, session, false);
  } else if (command.cmd === 'flush') {
    flushLog();
    out({ event: 'flushed', pending: pending.size });
  }
}).on('close', () => { flushLog(); process.exit(0); });

process.on('SIGTERM', () => { flushLog(); process.exit(0); });

server.listen(0, '127.0.0.1', () => out({ event: 'listening', port: server.address().port }));
