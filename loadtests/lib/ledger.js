// A ledger of what the system under test told the load generator, for the chaos checkers (see the
// checker pattern in the postmortem catalog): every invariant is a query over "what was
// acknowledged" and the final state. An operation ends in one of three outcomes:
//
//   acked    the system confirmed it (e.g. 201): it must survive any fault
//   rejected the system definitely refused it (e.g. 409, 429): it must have had no effect
//   unknown  no answer, a timeout, a 5xx: it may or may not have happened — what retries and
//            idempotency keys are for (pm11)
//
// Counts land in the summary as ledger_acked / ledger_rejected / ledger_unknown (tagged by op).
// The ids travel as sample *metadata* (not tags: one tag value per id would create a time series
// per operation), which k6's JSON output keeps:
//
//   k6 run --out json=results/run.ndjson script.js
//   jq -c 'select(.type=="Point" and (.metric|startswith("ledger_"))) | [.metric, .data.tags.op, .data.metadata.ledger_id]' results/run.ndjson

import exec from 'k6/execution'
import { Counter } from 'k6/metrics'

const counters = {
  acked: new Counter('ledger_acked'),
  rejected: new Counter('ledger_rejected'),
  unknown: new Counter('ledger_unknown'),
}

function record(outcome, op, id) {
  const metadata = exec.vu.metrics.metadata
  metadata.ledger_id = String(id)
  try {
    counters[outcome].add(1, { op })
  } finally {
    delete metadata.ledger_id
  }
}

export function acked(op, id) {
  record('acked', op, id)
}

export function rejected(op, id) {
  record('rejected', op, id)
}

export function unknown(op, id) {
  record('unknown', op, id)
}

/**
 * Records the outcome of an HTTP response: `ackStatuses` (default 200, 201, 202, 204) are acked,
 * `rejectStatuses` (default every other 4xx) rejected, anything else — status 0 (timeout, reset),
 * 5xx — unknown. Returns the outcome.
 */
export function fromResponse(op, id, res, options = {}) {
  const ackStatuses = options.ackStatuses ?? [200, 201, 202, 204]
  const status = res.status
  let outcome = 'unknown'
  if (ackStatuses.includes(status)) outcome = 'acked'
  else if (options.rejectStatuses ? options.rejectStatuses.includes(status) : status >= 400 && status < 500) {
    outcome = 'rejected'
  }
  record(outcome, op, id)
  return outcome
}
