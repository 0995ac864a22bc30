// The explorer's shell: a History API router over real URLs, link interception, search,
// the theme toggle and the ticking "… ago" labels. Each page module exports
// render(main, params, signal); the signal aborts when the user navigates away.

import { get, ApiError } from "./api.js";
import { h, fill } from "./dom.js";
import { ago } from "./format.js";
import * as live from "./live.js";
import * as home from "./pages/home.js";
import * as block from "./pages/block.js";
import * as tx from "./pages/tx.js";
import * as address from "./pages/address.js";
import * as inference from "./pages/inference.js";
import * as node from "./pages/node.js";
import * as models from "./pages/models.js";
import * as teach from "./pages/teach.js";
import * as workflows from "./pages/workflows.js";
import * as workflow from "./pages/workflow.js";

const ROUTES = [
  [/^\/$/, home],
  [/^\/block\/([^/]+)$/, block],
  [/^\/tx\/([^/]+)$/, tx],
  [/^\/address\/([^/]+)$/, address],
  [/^\/inference\/([^/]+)$/, inference],
  [/^\/node\/([^/]+)$/, node],
  [/^\/models$/, models],
  [/^\/teach$/, teach],
  [/^\/workflows$/, workflows],
  [/^\/workflow\/([^/]+)$/, workflow],
];

// Paths the server answers itself: never routed in the page.
const SERVER_PATHS = /^\/(api|docs|openapi\.json|redoc)(\/|$)/;

const main = document.getElementById("main");
let current = null; // AbortController of the page on screen
let firstRender = true;

function notFound(mainEl) {
  document.title = "Not found · og-devnet";
  fill(mainEl, h("h1", { tabindex: "-1" }, "Page not found"),
    h("p", {}, "Nothing lives at ", h("code", {}, location.pathname), ". ", h("a", { href: "/" }, "Back to the chain.")));
}

async function route() {
  current?.abort();
  current = new AbortController();
  const { signal } = current;
  let path;
  try {
    path = decodeURI(location.pathname).replace(/\/+$/, "") || "/";
  } catch {
    path = null; // a malformed address: not found, rather than a dead page
  }
  const match = path === null ? undefined : ROUTES.map(([re, page]) => [path.match(re), page]).find(([m]) => m);
  main.setAttribute("aria-busy", "true");
  try {
    if (!match) notFound(main);
    else await match[1].render(main, match[0].slice(1), signal);
  } catch (error) {
    if (error.name === "AbortError" || signal.aborted) return;
    showError(error);
  } finally {
    if (!signal.aborted) main.removeAttribute("aria-busy");
  }
  if (signal.aborted) return;
  // Move focus to the new page's heading so keyboard and screen-reader users start there.
  if (!firstRender) (main.querySelector("h1") || main).focus({ preventScroll: true });
  firstRender = false;
  const scrollY = history.state?.scrollY;
  window.scrollTo(0, typeof scrollY === "number" ? scrollY : 0);
}

function showError(error) {
  const unreachable = error instanceof ApiError && error.status === 0;
  const notFoundError = error instanceof ApiError && error.status === 404;
  document.title = "Error · og-devnet";
  fill(main,
    h("h1", { tabindex: "-1" }, unreachable ? "The devnet is unreachable" : notFoundError ? "Not found" : "Something went wrong"),
    h("p", { class: "error" }, error.detail || error.message),
    h("p", {}, h("button", { type: "button", onclick: () => route() }, "Try again"), " ",
      h("a", { href: "/" }, "Home")));
}

/** Navigates inside the app (pushState) and renders the new page. */
export function navigate(url, { replace = false } = {}) {
  // Remember where we were on the page we leave, so Back returns to the same spot.
  history.replaceState({ ...(history.state || {}), scrollY: window.scrollY }, "");
  if (replace) history.replaceState({}, "", url);
  else history.pushState({}, "", url);
  route();
}

function interceptLinks(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || SERVER_PATHS.test(url.pathname)) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return; // in-page anchor
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
}

async function search(event) {
  event.preventDefault();
  const input = document.getElementById("search-input");
  const message = document.getElementById("search-message");
  const q = input.value.trim();
  message.textContent = "";
  if (!q) {
    message.textContent = "Type a block number, a transaction hash, an address or an inference id.";
    return;
  }
  try {
    const found = await get(`/api/search?q=${encodeURIComponent(q)}`);
    input.value = "";
    navigate(found.path);
  } catch (error) {
    message.textContent = error.status === 404 ? `Nothing matches “${q}”.` : `Search failed: ${error.detail || error.message}`;
  }
}

function setupThemeToggle() {
  const button = document.getElementById("theme-toggle");
  const systemDark = window.matchMedia("(prefers-color-scheme: dark)");
  const effective = () => document.documentElement.dataset.theme || (systemDark.matches ? "dark" : "light");
  // The button names the theme it switches to.
  const label = () => {
    const dark = effective() === "dark";
    button.textContent = dark ? "Light theme" : "Dark theme";
    button.title = dark ? "Switch to the light theme" : "Switch to the dark theme";
  };
  button.addEventListener("click", () => {
    const next = effective() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem("og-theme", next); } catch { /* not remembered */ }
    label();
  });
  systemDark.addEventListener("change", label);
  label();
}

// "3 s ago" labels: any <time data-ago="ms"> is refreshed every second.
function tickAgo() {
  const now = live.devnetNow();
  for (const el of document.querySelectorAll("time[data-ago]")) el.textContent = ago(Number(el.dataset.ago), now);
}

history.scrollRestoration = "manual";
document.addEventListener("click", interceptLinks);
document.getElementById("search-form").addEventListener("submit", search);
window.addEventListener("popstate", route);
window.addEventListener("og-devnet:reset", () => route());
window.addEventListener("unhandledrejection", (event) => {
  // Page code catches its own errors; this is a last guard so nothing escapes unexplained.
  if (event.reason?.name === "AbortError") event.preventDefault();
});
setupThemeToggle();
setInterval(tickAgo, 1000);
live.start();
route();
