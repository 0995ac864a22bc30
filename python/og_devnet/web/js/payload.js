// Model inputs and outputs as people read them: fixed-point tensors decoded to numbers,
// strings, prompts and chat messages as text, anything else as JSON.

import { h } from "./dom.js";
import { fixedPoint } from "./format.js";

const MAX_VALUES = 64;

function tensor(t) {
  const values = (t.values || []).map((v) => (Array.isArray(v) ? fixedPoint(v) : String(v)));
  const shown = values.slice(0, MAX_VALUES).join(", ");
  const more = values.length > MAX_VALUES ? ` … and ${values.length - MAX_VALUES} more` : "";
  const shape = Array.isArray(t.shape) ? ` [${t.shape.join("×")}]` : "";
  return h("div", { class: "tensor" },
    h("span", { class: "tensor-name" }, `${t.name}${shape}`),
    h("code", { class: "tensor-values" }, `[${shown}${more}]`));
}

function strings(list) {
  return list.map((item) => h("div", { class: "tensor" },
    h("span", { class: "tensor-name" }, item.name ?? "string"),
    h("code", { class: "tensor-values" }, Array.isArray(item.values) ? item.values.join(", ") : JSON.stringify(item.value ?? item))));
}

function messages(list) {
  return h("ol", { class: "messages" }, list.map((m) =>
    h("li", {}, h("strong", {}, `${m.role ?? "message"}: `), h("span", { class: "prose" }, typeof m.content === "string" ? m.content : JSON.stringify(m.content)))));
}

/** A payload object ({numbers, strings, jsons, prompt, messages, ...}) as elements. */
export function payloadView(payload) {
  if (payload === null || payload === undefined) return h("p", { class: "empty" }, "Not available yet.");
  if (typeof payload !== "object") return h("pre", { class: "prose" }, String(payload));
  const parts = [];
  for (const [key, value] of Object.entries(payload)) {
    if (value === null || value === undefined || (Array.isArray(value) && !value.length)) continue;
    if (key === "numbers" && Array.isArray(value)) parts.push(...value.map(tensor));
    else if (key === "strings" && Array.isArray(value)) parts.push(...strings(value));
    else if (key === "messages" && Array.isArray(value)) parts.push(messages(value));
    else if (typeof value === "string") parts.push(h("div", { class: "tensor" }, h("span", { class: "tensor-name" }, key), h("pre", { class: "prose" }, value)));
    else parts.push(h("div", { class: "tensor" }, h("span", { class: "tensor-name" }, key), h("pre", { class: "json" }, JSON.stringify(value, null, 2))));
  }
  return parts.length ? h("div", { class: "payload" }, parts) : h("p", { class: "empty" }, "Empty.");
}
