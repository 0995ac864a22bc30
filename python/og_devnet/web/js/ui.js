// Small pieces shared by pages: links to chain objects, badges, headings.

import { h } from "./dom.js";
import { shortHash, nodeName, ago, clockTime } from "./format.js";

export const blockLink = (number) =>
  number === null || number === undefined ? h("span", { class: "muted" }, "pending") : h("a", { href: `/block/${number}` }, `#${number}`);

export const txLink = (hash, full = false) =>
  h("a", { href: `/tx/${hash}`, class: "hash", title: hash }, full ? hash : shortHash(hash));

export const addressLink = (address, full = false) =>
  address ? h("a", { href: `/address/${address}`, class: "hash", title: address }, full ? address : shortHash(address, 6)) : h("span", { class: "muted" }, "–");

export const inferenceLink = (id, text) =>
  h("a", { href: `/inference/${id}`, class: "hash", title: id }, text || shortHash(id));

export const nodeLink = (index) =>
  index === null || index === undefined ? h("span", { class: "muted" }, "–") : h("a", { href: `/node/${index}` }, nodeName(index));

export const modeBadge = (name) => h("span", { class: `badge mode mode-${String(name).toLowerCase()}` }, name);

export const statusBadge = (status) =>
  h("span", { class: `badge status status-${status}`, "data-testid": "status" }, String(status).replace("_", " "));

/** A <time> that app.js keeps saying "… ago" about. */
export const timeAgo = (ms) =>
  ms ? h("time", { datetime: new Date(ms).toISOString(), "data-ago": ms, title: clockTime(ms) }, ago(ms)) : "–";

export const mono = (text) => h("code", { class: "mono" }, text);

/** Sets the document title and returns the page heading. */
export function heading(title, ...extra) {
  document.title = `${title} · og-devnet`;
  return h("h1", { tabindex: "-1" }, title, ...extra);
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}
