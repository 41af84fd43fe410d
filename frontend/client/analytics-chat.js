// Analytics Chat JS client: talk to /api/chat from a browser (or Node 18+), and render answers.
//
//   import { configure, generate, stream, renderResponse } from "./analytics-chat.js";
//   configure({ baseUrl: "https://chat.example.com", token: "…" });   // omit both on the chat page
//   const answer = await generate({ ask: "Revenue by month", scope: "demo" }, controller.signal);
//   renderResponse(answer, document.querySelector("#answer"));
//
// Plain ESM with no imports, so the page can load it without a build step. vega-embed and
// highlight.js are optional and picked up from `options` or the page's globals when present.

export const PLACEHOLDERS = ["data", "sql", "chart_spec", "semantic_context", "catalog"];
const PLACEHOLDER_PATTERN = /\{(data|sql|chart_spec|semantic_context|catalog)\}/g;
const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** A non-2xx answer from the API. `body` is the parsed JSON error ({"field": ["message"]} for 4xx). */
export class ChatApiError extends Error {
  constructor(status, body) {
    super(`Analytics Chat API answered ${status}: ${describeErrorBody(body)}`);
    this.name = "ChatApiError";
    this.status = status;
    this.body = body;
  }
}

function describeErrorBody(body) {
  if (body == null) return "no body";
  if (typeof body === "string") return body.slice(0, 300);
  if (typeof body.detail === "string") return body.detail;
  // A ChatResponse that failed before it started (e.g. 503 with no worker) explains itself.
  if (body.error_info?.message) return body.error_info.message;
  return Object.entries(body)
    .map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`)
    .join("; ");
}

function readCookie(name) {
  if (typeof document === "undefined" || !document.cookie) return null;
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

/**
 * Split an SSE byte stream into {event, data} objects. `data` is parsed JSON.
 * Comment lines (": heartbeat") are skipped; a frame is flushed at each blank line.
 */
export async function* parseEventStream(body, signal) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let eventName = "message";
  let dataLines = [];
  const flush = function* () {
    if (dataLines.length) {
      const raw = dataLines.join("\n");
      let data;
      try {
        data = JSON.parse(raw);
      } catch {
        data = raw;
      }
      yield { event: eventName, data };
    }
    eventName = "message";
    dataLines = [];
  };
  try {
    while (true) {
      if (signal?.aborted) throw signal.reason ?? new DOMException("Aborted", "AbortError");
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      // The last piece may be half a line: keep it for the next chunk.
      buffer = done ? "" : lines.pop();
      for (const line of lines) {
        if (line === "") {
          yield* flush();
        } else if (line.startsWith(":")) {
          continue;
        } else {
          const colon = line.indexOf(":");
          const field = colon === -1 ? line : line.slice(0, colon);
          let value = colon === -1 ? "" : line.slice(colon + 1);
          if (value.startsWith(" ")) value = value.slice(1);
          if (field === "event") eventName = value;
          else if (field === "data") dataLines.push(value);
        }
      }
      if (done) {
        yield* flush();
        return;
      }
    }
  } finally {
    // A consumer that stops early (break, abort) closes the connection instead of leaving it open.
    reader.cancel().catch(() => {});
  }
}

/**
 * A client bound to one server. Options: baseUrl ("" = same origin), token (DRF token; without it the
 * browser session is used and the csrftoken cookie goes out as X-CSRFToken), fetch (for tests).
 */
export function createClient({ baseUrl = "", token = null, fetch: fetchImpl = null, csrfCookieName = "csrftoken" } = {}) {
  const root = baseUrl.replace(/\/+$/, "");
  const doFetch = (...args) => (fetchImpl ?? globalThis.fetch)(...args);

  function headers(method, extra = {}) {
    const result = { Accept: "application/json", ...extra };
    if (token) result.Authorization = `Token ${token}`;
    else if (UNSAFE_METHODS.has(method)) {
      const csrf = readCookie(csrfCookieName);
      if (csrf) result["X-CSRFToken"] = csrf;
    }
    return result;
  }

  async function request(method, path, { body, signal, accept } = {}) {
    const extra = body === undefined ? {} : { "Content-Type": "application/json" };
    if (accept) extra.Accept = accept;
    const response = await doFetch(`${root}${path}`, {
      method,
      headers: headers(method, extra),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: token ? "omit" : "same-origin",
      signal,
    });
    if (!response.ok) throw new ChatApiError(response.status, await readErrorBody(response));
    return response;
  }

  async function json(method, path, options) {
    const response = await request(method, path, options);
    return response.status === 204 ? null : response.json();
  }

  const messagePath = (uuid) => `/api/chat/messages/${encodeURIComponent(uuid)}`;

  /** Ask the server to stop a running answer; resolves to {response_uuid, status}. */
  function abort(responseUuid) {
    return json("POST", `${messagePath(responseUuid)}/abort`, { body: {} });
  }

  /** One blocking request; resolves to the ChatResponse. Aborting the signal drops the connection,
   * which makes the server stop the work. */
  function generate(params, signal) {
    validateParams(params);
    return json("POST", "/api/chat/generate", { body: { ...params, streaming: false }, signal });
  }

  /**
   * Async iterator of {event, data}: start, stage, delta…, then done or error.
   * On abort it also POSTs …/abort once the response_uuid is known, so the server stops for sure.
   */
  async function* stream(params, signal) {
    validateParams(params);
    let responseUuid = null;
    let abortSent = null;
    const sendAbort = () => {
      if (responseUuid && !abortSent) abortSent = abort(responseUuid).catch(() => null);
    };
    signal?.addEventListener("abort", sendAbort, { once: true });
    try {
      const response = await request("POST", "/api/chat/generate", {
        body: { ...params, streaming: true },
        signal,
        // JSON too: error answers (4xx) are JSON, and the API negotiates on it.
        accept: "text/event-stream, application/json",
      });
      let finished = false;
      for await (const item of parseEventStream(response.body, signal)) {
        if (item.event === "start") responseUuid = item.data.response_uuid;
        yield item;
        if (item.event === "done" || item.event === "error") {
          finished = true;
          break;
        }
      }
      if (!finished && !signal?.aborted) {
        throw new ChatApiError(0, "the event stream ended before a done or error event");
      }
    } catch (error) {
      if (signal?.aborted) sendAbort();
      throw error;
    } finally {
      signal?.removeEventListener("abort", sendAbort);
      if (signal?.aborted) sendAbort();
      if (abortSent) await abortSent;
    }
  }

  /** Upload a data file (staff): resolves to its preview; onProgress(fraction) while it is sent. */
  function upload(file, onProgress = () => {}) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${root}/api/sources/uploads`);
      for (const [key, value] of Object.entries(headers("POST"))) xhr.setRequestHeader(key, value);
      xhr.withCredentials = !token;
      xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
      xhr.onload = () => {
        let body;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = xhr.responseText;
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else reject(new ChatApiError(xhr.status, body));
      };
      xhr.onerror = () => reject(new ChatApiError(0, "the upload was interrupted"));
      const form = new FormData();
      form.append("file", file);
      xhr.send(form);
    });
  }

  /** Import a staged upload as a source; onProgress({step, done, total}); resolves to {name, tables}. */
  async function importUpload(uploadId, { name, description = "" }, onProgress = () => {}) {
    const response = await request("POST", `/api/sources/uploads/${encodeURIComponent(uploadId)}`, {
      body: { name, description, streaming: true },
      accept: "text/event-stream, application/json",
    });
    for await (const { event, data } of parseEventStream(response.body)) {
      if (event === "progress") onProgress(data);
      else if (event === "done") return data;
      else if (event === "error") throw new ChatApiError(400, data);
    }
    throw new ChatApiError(0, "the import stream ended early");
  }

  return {
    generate,
    stream,
    abort,
    getMessage: (uuid, signal) => json("GET", messagePath(uuid), { signal }),
    thread: (uuid, signal) => json("GET", `${messagePath(uuid)}/thread`, { signal }),
    feedback: (uuid, liked) => json("POST", `${messagePath(uuid)}/feedback`, { body: { liked } }),
    threads: (page = 1, signal) => json("GET", `/api/chat/threads?page=${page}`, { signal }),
    deleteThread: (rootUuid) => json("DELETE", `/api/chat/threads/${encodeURIComponent(rootUuid)}`),
    sources: (signal) => json("GET", "/api/sources", { signal }),
    /** A source's start page: tables (row counts, descriptions), metrics and dimensions. */
    source: (name, tables = [], signal) => json("GET", sourcePath(name, "", tables), { signal }),
    /** Questions to ask the source, each checked to compile and run: {source, suggestions: [...]}. */
    suggestions: (name, tables = [], signal) => json("GET", sourcePath(name, "/suggestions", tables), { signal }),
    /** Run an answer's SQL as edited, through the server's guard; resolves to the new ChatResponse. */
    rerun: (uuid, sql) => json("POST", `${messagePath(uuid)}/rerun`, { body: { sql } }),
    upload,
    importUpload,
    discardUpload: (uploadId) => json("DELETE", `/api/sources/uploads/${encodeURIComponent(uploadId)}`),
    models: (signal) => json("GET", "/api/models", { signal }),
    chartUrl: (uuid, format = "svg") => `${root}${messagePath(uuid)}/chart.${format}`,
    csvUrl: (uuid) => `${root}${messagePath(uuid)}/data.csv`,
  };
}

function sourcePath(name, suffix, tables) {
  const query = tables?.length ? `?tables=${encodeURIComponent(tables.join(","))}` : "";
  return `/api/sources/${encodeURIComponent(name)}${suffix}${query}`;
}

function validateParams(params) {
  if (!params || typeof params.ask !== "string" || !params.ask.trim()) {
    throw new TypeError("ChatRequest.ask is required and must be a non-empty string");
  }
}

async function readErrorBody(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// A module-level client for the common case of one server per page.
let defaultClient = createClient();

/** Point the module-level functions at a server: {baseUrl, token, fetch}. */
export function configure(options) {
  defaultClient = createClient(options);
  return defaultClient;
}

/** POST /api/chat/generate (not streamed). Resolves to the ChatResponse. */
export function generate(params, signal) {
  return defaultClient.generate(params, signal);
}

/** POST /api/chat/generate with streaming: an async iterator of {event, data}. */
export function stream(params, signal) {
  return defaultClient.stream(params, signal);
}

// --- Rendering ------------------------------------------------------------------------------

/**
 * Fill a ChatResponse's placeholders into DOM nodes.
 *
 * `nodes` is either one element (the template text is laid out in it with each placeholder
 * rendered in place) or an object {text, data, sql, chart_spec, semantic_context, catalog} of
 * elements: the text (placeholders removed) goes to `text`, each payload to its own node.
 * Options: vegaEmbed, hljs (default: the page's globals), document.
 * Returns {rendered: [placeholder names], chart: Promise|null} (the chart promise settles when drawn).
 */
export function renderResponse(response, nodes, options = {}) {
  const doc = options.document ?? globalThis.document;
  const payload = response?.response_data ?? {};
  const template = response?.response ?? "";
  const rendered = [];
  let chart = null;

  const renderPart = (name) => {
    const value = payload[name];
    if (value == null) return null;
    rendered.push(name);
    if (name === "data") return renderTable(doc, value, { columns: payload.explanation?.columns, csvUrl: options.csvUrl });
    if (name === "sql") return renderSql(doc, value, options.hljs ?? globalThis.hljs);
    if (name === "chart_spec") {
      const { element, promise } = renderChart(doc, value, options.vegaEmbed ?? globalThis.vegaEmbed);
      chart = promise;
      return element;
    }
    return renderTree(doc, value, name);
  };

  const isSingleElement = typeof nodes?.appendChild === "function";
  if (isSingleElement) {
    nodes.replaceChildren();
    for (const piece of splitTemplate(template)) {
      if (piece.placeholder) {
        const element = renderPart(piece.placeholder);
        if (element) nodes.appendChild(element);
      } else if (piece.text.trim()) {
        const paragraph = doc.createElement("p");
        paragraph.className = "ac-text";
        paragraph.textContent = piece.text.trim();
        nodes.appendChild(paragraph);
      }
    }
  } else {
    if (nodes?.text) nodes.text.textContent = template.replace(PLACEHOLDER_PATTERN, "").trim();
    const present = new Set(splitTemplate(template).map((p) => p.placeholder).filter(Boolean));
    for (const name of PLACEHOLDERS) {
      const target = nodes?.[name];
      if (!target) continue;
      target.replaceChildren();
      if (!present.has(name)) continue;
      const element = renderPart(name);
      if (element) target.appendChild(element);
    }
  }
  return { rendered, chart };
}

/** [{text}|{placeholder}] in template order. */
export function splitTemplate(template) {
  const pieces = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER_PATTERN)) {
    if (match.index > last) pieces.push({ text: template.slice(last, match.index) });
    pieces.push({ placeholder: match[1] });
    last = match.index + match[0].length;
  }
  if (last < template.length) pieces.push({ text: template.slice(last) });
  return pieces;
}

/**
 * The result as a table people can read: dates by their calendar step, numbers in the metric's format,
 * a total row where the values add up, sorting by a column (click its header) and the row count with the
 * CSV download of the whole result. `columns` (explanation.columns) names each column's format.
 */
function renderTable(doc, data, { columns = null, csvUrl = null } = {}) {
  const wrapper = doc.createElement("div");
  wrapper.className = "ac-data";
  const table = doc.createElement("table");
  const names = data.columns ?? [];
  const formats = names.map((name, index) => columns?.[index]?.name === name ? columns[index] : { format: defaultFormat(data.types?.[index]) });
  let rows = [...(data.rows ?? [])];
  const sort = { index: null, descending: false };
  const head = table.createTHead().insertRow();
  const body = table.createTBody();
  const fillBody = () => {
    body.replaceChildren();
    for (const row of rows) {
      const tr = body.insertRow();
      row.forEach((value, index) => {
        const cell = tr.insertCell();
        cell.textContent = formatValue(value, formats[index]);
        if (typeof value === "number") cell.className = "ac-num";
      });
    }
  };
  names.forEach((column, index) => {
    const cell = doc.createElement("th");
    cell.textContent = columns?.[index]?.label ?? column;
    cell.title = `${data.types?.[index] ?? ""} — click to sort`.replace(/^ — /, "Click to sort");
    cell.dataset.column = column;
    cell.setAttribute("aria-sort", "none");
    cell.addEventListener("click", () => {
      sort.descending = sort.index === index ? !sort.descending : false;
      sort.index = index;
      rows = [...(data.rows ?? [])].sort((a, b) => compareCells(a[index], b[index]) * (sort.descending ? -1 : 1));
      for (const th of head.children) th.setAttribute("aria-sort", "none");
      cell.setAttribute("aria-sort", sort.descending ? "descending" : "ascending");
      fillBody();
    });
    head.appendChild(cell);
  });
  fillBody();
  if (formats.some((f) => f.total) && rows.length > 1) {
    const total = table.createTFoot().insertRow();
    total.className = "ac-total";
    names.forEach((_, index) => {
      const cell = total.insertCell();
      if (index === 0 && !formats[0].total) cell.textContent = data.truncated ? "Total of the rows shown" : "Total";
      else if (formats[index].total) {
        cell.textContent = formatValue((data.rows ?? []).reduce((sum, row) => sum + (Number(row[index]) || 0), 0), formats[index]);
        cell.className = "ac-num";
      }
    });
  }
  wrapper.appendChild(table);
  const note = doc.createElement("p");
  note.className = "ac-rowcount";
  const shown = (data.rows ?? []).length;
  const count = data.row_count ?? shown;
  note.textContent = data.truncated || count > shown ? `${shown} of ${count} rows shown` : `${count} row${count === 1 ? "" : "s"}`;
  if (csvUrl) {
    const link = doc.createElement("a");
    link.href = csvUrl;
    link.download = "";
    link.className = "ac-csv";
    link.textContent = count > shown ? `Download all ${count} rows (CSV)` : "Download CSV";
    note.append(" · ", link);
  }
  wrapper.appendChild(note);
  return wrapper;
}

function defaultFormat(type) {
  return /^(DATE|TIMESTAMP)/i.test(type ?? "") ? { format: "date", unit: null } : { format: null };
}

function compareCells(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1; // empty cells last, either way
  if (b === null || b === undefined) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function formatValue(value, { format = null, unit = null } = {}) {
  if (value === null || value === undefined) return "∅";
  if (format === "date" && typeof value === "string") {
    const unitName = unit ?? "";
    if (unitName.endsWith("yearmonth") && !unitName.endsWith("yearmonthdate")) return `${MONTHS[Number(value.slice(5, 7)) - 1]} ${value.slice(0, 4)}`;
    if (unitName.endsWith("year")) return value.slice(0, 4);
    // A date with no time of day reads as a date; a real timestamp keeps its time, without the "T".
    return /[T ]00:00:00(\.0+)?$/.test(value) ? value.slice(0, 10) : value.replace("T", " ");
  }
  if (typeof value === "number") {
    if (format === "currency") return value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    if (format === "percent") return `${(value * 100).toLocaleString("en-US", { maximumFractionDigits: 1 })}%`;
    return formatCell(value);
  }
  return formatCell(value);
}

function formatCell(value) {
  if (value === null || value === undefined) return "∅";
  if (typeof value === "number") return Number.isInteger(value) ? value.toLocaleString("en-US") : value.toLocaleString("en-US", { maximumFractionDigits: 4 });
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function renderSql(doc, sql, hljs) {
  const pre = doc.createElement("pre");
  pre.className = "ac-sql";
  const code = doc.createElement("code");
  code.className = "language-sql";
  code.textContent = typeof sql === "string" ? sql : (sql.sql ?? JSON.stringify(sql));
  pre.appendChild(code);
  if (hljs?.highlightElement) hljs.highlightElement(code);
  return pre;
}

function renderChart(doc, spec, vegaEmbed) {
  const element = doc.createElement("div");
  element.className = "ac-chart";
  // vega-embed's own CSS makes its node inline-block (shrink to fit), which leaves a spec sized to its
  // container ("width": "container") 0 px wide; as a block it takes the width it is given.
  element.style.display = "block";
  if (typeof vegaEmbed !== "function") {
    element.textContent = "(chart: vega-embed is not loaded)";
    return { element, promise: null };
  }
  // Draw once renderResponse has put the element in the page: a spec sized to its container
  // ("width": "container") measures the element, and a detached one is 0 px wide.
  const promise = Promise.resolve()
    .then(() => vegaEmbed(element, spec, { renderer: "svg", actions: { export: true, source: false, compiled: false, editor: false } }))
    .catch((error) => {
      element.textContent = `Could not draw the chart: ${error.message}`;
      throw error;
    });
  return { element, promise };
}

/** Nested lists for catalog / semantic context: items with a `name` show it bold with a description. */
function renderTree(doc, value, name) {
  const list = buildList(doc, value);
  list.classList.add(`ac-${name.replace("_", "-")}`);
  return list;
}

function buildList(doc, value) {
  const list = doc.createElement("ul");
  const entries = Array.isArray(value) ? value.map((item) => [null, item]) : Object.entries(value ?? {});
  for (const [key, item] of entries) {
    const li = doc.createElement("li");
    if (key !== null) {
      const label = doc.createElement("strong");
      label.textContent = `${key}: `;
      li.appendChild(label);
    }
    if (item && typeof item === "object" && !Array.isArray(item) && "name" in item) {
      const title = doc.createElement("strong");
      title.textContent = item.name;
      li.appendChild(title);
      const { name: _name, description, ...rest } = item;
      if (description) li.appendChild(doc.createTextNode(` — ${description}`));
      if (Object.keys(rest).length) li.appendChild(buildList(doc, rest));
    } else if (item && typeof item === "object") {
      li.appendChild(buildList(doc, item));
    } else {
      li.appendChild(doc.createTextNode(String(item)));
    }
    list.appendChild(li);
  }
  return list;
}
