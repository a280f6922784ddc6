// An SMSC built on the npm `smpp` package's server (farhadi/node-smpp), for our tests.
// Prints JSON lines on stdout (listening, bind, submit, deliver_sm_resp); takes JSON
// lines on stdin ({"cmd": "mo", ...fields}). Answers every submit_sm with a hex id
// and, when a receipt is asked for, sends one (text and TLVs) right after.
'use strict';
const smpp = require('smpp');
const readline = require('readline');

const quiet = process.argv.includes('--quiet');
const sessions = new Set();
let nextId = 0x1F0;
const out = (event) => process.stdout.write(JSON.stringify(event) + '\n');
const hex = (buf) => Buffer.from(buf).toString('hex');

function body(value) {
  // The package decodes short_message / message_payload to {udh, message}.
  if (!value) return { udh: [], message: '' };
  if (Buffer.isBuffer(value)) return { udh: [], message: value.toString('latin1') };
  return { udh: (value.udh || []).map(hex), message: value.message };
}

const server = smpp.createServer((session) => {
  session.on('bind_transceiver', (pdu) => {
    out({ event: 'bind', system_id: pdu.system_id, password: pdu.password,
          system_type: pdu.system_type });
    sessions.add(session);
    session.send(pdu.response());
  });
  session.on('submit_sm', (pdu) => {
    const id = (nextId++).toString(16).toUpperCase().padStart(8, '0');
    const sm = body(pdu.short_message);
    const payload = body(pdu.message_payload);
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
    session.send(pdu.response({ message_id: id }));
    if (pdu.registered_delivery & 1) {
      session.deliver_sm({
        source_addr: pdu.destination_addr, destination_addr: pdu.source_addr,
        esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
        short_message: 'id:' + id + ' sub:001 dlvrd:001 submit date:2501011200' +
          ' done date:2501011201 stat:DELIVRD err:000 text:',
        receipted_message_id: id, message_state: smpp.MESSAGE_STATE.DELIVERED,
      });
    }
  });
  session.on('deliver_sm_resp', (pdu) => {
    out({ event: 'deliver_sm_resp', sequence: pdu.sequence_number,
          status: pdu.command_status });
  });
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  session.on('close', () => sessions.delete(session));
  session.on('error', () => sessions.delete(session));
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line);
  if (command.cmd === 'mo') {
    const fields = Object.assign({}, command);
    delete fields.cmd;
    for (const session of sessions) session.deliver_sm(fields);
  }
}).on('close', () => process.exit(0));

server.listen(0, '127.0.0.1', () => out({ event: 'listening', port: server.address().port }));
