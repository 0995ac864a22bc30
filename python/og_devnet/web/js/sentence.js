// The one sentence that says, in plain words, what you could trust and when. Written for a
// class watching the projector as much as for a developer reading a record.

import { duration, nodeName, opg } from "./format.js";

export function sentence(r) {
  const node = nodeName(r.winner_node);
  if (r.status === "failed") return `The inference failed: ${r.error || "no node returned a valid result"}.`;
  if (!r.t_result) return "Waiting for a node's result…";
  const head = `Result delivered ${duration(r.t_result - r.t_request)} after the request`;
  const gap = duration(r.trust_gap_ms ?? (r.t_settled && r.t_settled - r.t_result));
  const where = r.settlement_block !== null && r.settlement_block !== undefined ? ` in block ${r.settlement_block}` : "";
  const reason = r.rejection_reason || lastStep(r)?.reason || "no reason given";
  if (r.llm) return llm(r, head, gap, where, reason);
  switch (r.mode_name) {
    case "VANILLA":
      return r.status === "settled"
        ? `${head}; it settled at inclusion${where}, never verified: you trust ${node}.`
        : `${head}; it will settle at inclusion, never verified: you trust ${node}.`;
    case "TEE":
      if (r.status === "settled") return `${head}; its TEE attestation settled ${gap} later${where}. In between, you trusted ${node}'s enclave.`;
      if (r.status === "rejected") return `${head}, but its TEE attestation was rejected${where}: ${reason}. Do not trust this result.`;
      return `${head}; its TEE attestation has not settled yet. Until it does, you are trusting ${node}'s enclave.`;
    case "ZKML":
      if (r.status === "settled") return `${head}; its zero-knowledge proof was verified ${gap} later${where}. In between, you trusted ${node}'s word.`;
      if (r.status === "rejected") return `${head}, but its zero-knowledge proof was rejected${where}: ${reason}. Do not trust this result.`;
      return r.t_proof_submitted
        ? `${head}; its zero-knowledge proof is submitted and awaits verification. Until then, you are trusting ${node}'s word.`
        : `${head}; ${node} is still proving it. Until the proof is verified, you are trusting ${node}'s word.`;
    case "OPTIMISTIC":
      return optimistic(r, head, gap, where, reason, node);
    default:
      return `${head}; status ${r.status}.`;
  }
}

/** An LLM gateway's answer: delivered over pinned HTTPS, its signed hashes settled in a batch. */
function llm(r, head, gap, where, reason) {
  const batch = `batch #${r.llm.batch_id}`;
  const tee = `the gateway's enclave (TEE ${r.llm.tee_id.slice(0, 10)}…)`;
  if (r.llm.settlement_type === "private" && r.status === "settled") return `${head}; it was paid for and settled privately (no hashes published)${where}.`;
  if (r.status === "settled") return `${head}; the full node checked its signature and settled it in ${batch} ${gap} later${where}. In between, you trusted ${tee}.`;
  if (r.status === "rejected") return `${head}, but its signature was rejected when ${batch} settled${where}: ${reason}. Do not trust this answer.`;
  return `${head}; its signed hashes wait in ${batch}, which settles in a few blocks. Until then, you are trusting ${tee}.`;
}

function optimistic(r, head, gap, where, reason, node) {
  const bond = r.bond ? ` (${opg(r.bond)})` : "";
  const window = r.challenge_window_ends ? ` until block ${r.challenge_window_ends}` : "";
  if (r.status === "slashed") {
    const lost = r.slashed && r.slashed !== "0" ? ` ${opg(r.slashed)} of its stake is gone.` : "";
    return `${head}, but a watcher challenged it and the referee slashed ${node}${where}: ${reason}.${lost}`;
  }
  if (r.status === "settled") {
    return r.challenger || r.t_disputed
      ? `${head}; a challenge failed (the referee agreed with ${node}) and it settled ${gap} later${where}. In between, ${node}'s bond${bond} backed it.`
      : `${head}; nobody challenged it, so it settled ${gap} later${where} when the window closed. In between, ${node}'s bond${bond} backed it.`;
  }
  if (r.status === "disputed") return `${head}; a watcher challenged it and a referee is re-executing it. ${node}'s bond${bond} is at stake.`;
  if (r.status === "rejected") return `${head}, but it was rejected${where}: ${reason}.`;
  if (!r.t_included) return `${head}; once in a block it is challengeable${window}, bonded by ${node}'s stake${bond}.`;
  return `${head}; it is challengeable${window}, bonded by ${node}'s stake${bond}.`;
}

function lastStep(r) {
  const steps = r.settlement_steps || [];
  return steps[steps.length - 1];
}
