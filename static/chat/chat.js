// The chat page: thread list, ask box, streamed answers. Talks to the API through the JS client
// with the browser session (the client sends the csrftoken cookie as X-CSRFToken).
import { ChatApiError, createClient, renderResponse } from "../client/analytics-chat.js";

const api = createClient();
const $ = (selector) => document.querySelector(selector);
const app = $("#chat-app");
const messages = $("#messages");
const form = $("#ask-form");
const askInput = $("#ask");
const scopeSelect = $("#scope");
const modelSelect = $("#model");
const sendButton = $("#send");
const stopButton = $("#stop");
const statusLine = $("#status");
const threadList = $("#thread-list");
const moreThreads = $("#more-threads");
const correction = $("#correction");

const STAGE_LABELS = {
  route: "Understanding",
  context: "Finding data",
  sql: "Writing SQL",
  execute: "Running query",
  chart: "Drawing chart",
  compose: "Writing answer",
};

const state = { rootUuid: null, lastUuid: null, controller: null, threadsPage: 1, correcting: null };

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

function describeError(error) {
  if (error instanceof ChatApiError) return error.message;
  return error?.message ?? String(error);
}

// --- Sources, models, threads ------------------------------------------------------------------

async function loadSources(selected = null) {
  const defaultScope = app.dataset.defaultScope;
  try {
    const sources = await api.sources();
    scopeSelect.replaceChildren();
    for (const source of sources) {
      const group = element("optgroup", { label: source.name });
      group.append(element("option", { value: source.name, textContent: `${source.name} (all tables)` }));
      for (const table of source.tables ?? []) {
        const value = `${source.name}.${table.name}`;
        group.append(element("option", { value, textContent: table.name, title: table.description ?? "" }));
      }
      scopeSelect.append(group);
    }
    if ([...scopeSelect.options].some((o) => o.value === (selected ?? defaultScope))) scopeSelect.value = selected ?? defaultScope;
  } catch (error) {
    statusLine.textContent = `Could not load data sources: ${describeError(error)}`;
  }
}

async function loadModels() {
  try {
    const models = await api.models();
    // "" sends no model, so the server's default answers (it may be set by configuration, not flagged here).
    modelSelect.replaceChildren(
      element("option", { value: "", textContent: "Default" }),
      ...models.map((m) => element("option", { value: m.name, textContent: m.is_default ? `${m.name} (default)` : m.name })),
    );
  } catch (error) {
    statusLine.textContent = `Could not load models: ${describeError(error)}`;
  }
}

async function loadThreads({ append = false } = {}) {
  if (!append) state.threadsPage = 1;
  try {
    const page = await api.threads(state.threadsPage);
    if (!append) threadList.replaceChildren();
    for (const thread of page.results) threadList.append(threadItem(thread));
    moreThreads.hidden = !page.next;
    markActiveThread();
  } catch (error) {
    statusLine.textContent = `Could not load threads: ${describeError(error)}`;
  }
}

function threadItem(thread) {
  const open = element("button", { type: "button", class: "thread-title", textContent: thread.title || "(untitled)", title: thread.title });
  open.addEventListener("click", () => openThread(thread.root_uuid, thread.last_uuid));
  const remove = element("button", { type: "button", class: "thread-delete", textContent: "×", title: "Delete thread", "aria-label": "Delete thread" });
  remove.addEventListener("click", async () => {
    if (!confirm(`Delete "${thread.title}"?`)) return;
    await api.deleteThread(thread.root_uuid);
    if (state.rootUuid === thread.root_uuid) newThread();
    await loadThreads();
  });
  return element("li", { "data-root-uuid": thread.root_uuid }, open, remove);
}

function markActiveThread() {
  for (const item of threadList.children) item.classList.toggle("active", item.dataset.rootUuid === state.rootUuid);
}

function newThread() {
  state.rootUuid = null;
  state.lastUuid = null;
  setCorrection(null);
  messages.replaceChildren();
  markActiveThread();
  askInput.focus();
  return showStartPage();
}

// --- The start page: what a source holds, what to ask it, and bringing one's own data ----------

function selectedScope() {
  const [name, table] = (scopeSelect.value || app.dataset.defaultScope || "").split(".");
  return { name, tables: table ? [table] : [] };
}

async function showStartPage() {
  const { name, tables } = selectedScope();
  const start = element("section", { class: "start", "data-testid": "start-page" });
  messages.querySelector(".start")?.remove();
  $("#empty-hint")?.remove();
  messages.prepend(start);
  if (!name) {
    start.append(element("p", { class: "empty", textContent: "No data source yet." }), uploadPanel());
    return;
  }
  start.append(element("p", { class: "muted", textContent: `Loading ${name}…` }));
  try {
    const [source, { suggestions }] = await Promise.all([api.source(name, tables), api.suggestions(name, tables)]);
    if (!start.isConnected) return; // a question was asked meanwhile
    start.replaceChildren(
      element("h2", { textContent: source.name }),
      ...(source.description ? [element("p", { textContent: source.description })] : []),
      element("h3", { textContent: "Try asking" }),
      suggestionList(suggestions),
      element("h3", { textContent: "Tables" }),
      tableOverview(source.tables),
      ...(source.metrics.length ? [element("h3", { textContent: "Metrics" }), itemList(source.metrics, (m) => m.format !== "number" ? m.format : "")] : []),
      ...(source.dimensions.length ? [element("h3", { textContent: "Dimensions" }), itemList(source.dimensions, (d) => d.kind === "time" ? "time" : "")] : []),
      uploadPanel(),
    );
    start.dataset.ready = "true";
  } catch (error) {
    start.replaceChildren(element("p", { class: "error", textContent: `Could not load ${name}: ${describeError(error)}` }), uploadPanel());
  }
}

function suggestionList(suggestions) {
  if (!suggestions.length) return element("p", { class: "muted", textContent: "No question could be checked on this data yet." });
  return element(
    "ul",
    { class: "suggestions" },
    ...suggestions.map((s) => {
      const button = element("button", { type: "button", class: "suggestion", textContent: s.question, title: `${s.kind}: ${s.sql}`, "data-testid": "suggestion" });
      button.dataset.kind = s.kind;
      button.addEventListener("click", () => !state.controller && ask(s.question));
      return element("li", {}, button);
    }),
  );
}

function tableOverview(tables) {
  const table = element("table", { class: "overview", "data-testid": "start-tables" });
  table.createTHead().append(element("tr", {}, element("th", { textContent: "Table" }), element("th", { textContent: "Rows" }), element("th", { textContent: "What it holds" })));
  const body = table.createTBody();
  for (const t of tables) {
    body.append(element("tr", {}, element("td", { textContent: t.name }), element("td", { class: "ac-num", textContent: t.row_count == null ? "" : t.row_count.toLocaleString("en-US") }), element("td", { textContent: t.description ?? "" })));
  }
  return table;
}

function itemList(items, note) {
  return element(
    "ul",
    { class: "items" },
    ...items.map((item) => element("li", {}, element("strong", { textContent: item.label || item.name }), item.description ? ` — ${item.description}` : "", note(item) ? element("span", { class: "tag", textContent: note(item) }) : "")),
  );
}

function uploadPanel() {
  if (app.dataset.canUpload !== "true") return document.createTextNode("");
  const file = element("input", { type: "file", accept: ".csv,.tsv,.txt,.parquet,.pq,.sqlite,.sqlite3,.db,.duckdb,.ddb", "data-testid": "upload-file" });
  const progress = element("progress", { max: 1, value: 0, hidden: true, "data-testid": "upload-progress" });
  const step = element("span", { class: "muted", "data-testid": "upload-step" });
  const preview = element("div", { class: "upload-preview", "data-testid": "upload-preview" });
  const error = element("p", { class: "error", "data-testid": "upload-error" });
  const panel = element(
    "details",
    { class: "upload", "data-testid": "upload-panel" },
    element("summary", { textContent: "Bring your own data" }),
    element("p", {}, `Upload a CSV, Parquet, SQLite or DuckDB file (up to ${app.dataset.uploadMaxMb} MB), or `, element("a", { href: app.dataset.addSourceUrl, textContent: "add a source in the admin", target: "_blank" }), " for a database."),
    file,
    element("div", { class: "upload-status" }, progress, step),
    error,
    preview,
  );
  file.addEventListener("change", async () => {
    if (!file.files.length) return;
    error.textContent = "";
    preview.replaceChildren();
    progress.hidden = false;
    step.textContent = "Uploading…";
    try {
      const staged = await api.upload(file.files[0], (fraction) => (progress.value = fraction));
      progress.hidden = true;
      step.textContent = "";
      preview.replaceChildren(...uploadPreview(staged, { progress, step, error }));
    } catch (failure) {
      progress.hidden = true;
      step.textContent = "";
      error.textContent = describeUploadError(failure);
    }
    file.value = "";
  });
  return panel;
}

function describeUploadError(error) {
  const body = error?.body;
  // Field errors ({"sql": ["…"], "code": "…"}): the messages, not the machine-readable code.
  if (body && typeof body === "object") return Object.entries(body).filter(([key]) => key !== "code").map(([, v]) => v).flat().join(" ");
  return describeError(error);
}

function uploadPreview(staged, { progress, step, error }) {
  const parts = [element("p", { textContent: `${staged.original_name}: ${staged.kind.toUpperCase()}, ${staged.tables.length} table${staged.tables.length === 1 ? "" : "s"}. First rows and the types read from it:` })];
  for (const table of staged.tables) {
    const grid = element("table", { class: "overview preview-table", "data-testid": "preview-table" });
    grid.createTHead().append(element("tr", {}, ...table.columns.map((c) => element("th", {}, c.name, element("br"), element("span", { class: "tag", textContent: c.type })))));
    const body = grid.createTBody();
    for (const row of table.rows) body.append(element("tr", {}, ...row.map((v) => element("td", { textContent: v == null ? "∅" : String(v) }))));
    parts.push(element("h4", { textContent: `${table.name} (${(table.row_count ?? 0).toLocaleString("en-US")} rows)` }), element("div", { class: "ac-data" }, grid));
  }
  const name = element("input", { value: staged.suggested_name, required: true, pattern: "[-a-zA-Z0-9_]+", "data-testid": "upload-name" });
  const description = element("input", { placeholder: "What is this data? (optional)", "data-testid": "upload-description" });
  const importButton = element("button", { type: "button", class: "primary", textContent: "Import", "data-testid": "upload-import" });
  const discard = element("button", { type: "button", textContent: "Discard" });
  discard.addEventListener("click", async () => {
    await api.discardUpload(staged.upload_id).catch(() => null);
    importButton.closest(".upload-preview").replaceChildren();
  });
  importButton.addEventListener("click", async () => {
    error.textContent = "";
    importButton.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    const steps = { copy: "Reading the file", tables: "Finding tables and keys", profile: "Profiling columns" };
    try {
      const source = await api.importUpload(staged.upload_id, { name: name.value.trim(), description: description.value.trim() }, ({ step: stage, done, total }) => {
        step.textContent = `${steps[stage] ?? stage}${stage === "profile" ? ` (${done + 1} of ${total})` : ""}…`;
        progress.value = stage === "copy" ? 0.1 : stage === "tables" ? 0.3 : 0.4 + 0.6 * (done / Math.max(total, 1));
      });
      progress.value = 1;
      step.textContent = `Imported ${source.name}.`;
      await loadSources(source.name);
      await showStartPage();
    } catch (failure) {
      progress.hidden = true;
      step.textContent = "";
      importButton.disabled = false;
      error.textContent = describeUploadError(failure);
    }
  });
  parts.push(element("div", { class: "upload-form" }, element("label", {}, "Name ", name), element("label", {}, "Description ", description), importButton, discard));
  return parts;
}

function setCorrection(response) {
  state.correcting = response;
  correction.hidden = !response;
  if (!response) {
    askInput.placeholder = "Ask about your data…  (Enter to send, Shift+Enter for a new line)";
    return;
  }
  const summary = response.response_data?.explanation?.summary ?? response.ask;
  correction.replaceChildren(`Correcting “${summary}”. Say what you meant; the answer starts from this plan. `);
  const cancel = element("button", { type: "button", class: "link", textContent: "Cancel" });
  cancel.addEventListener("click", () => setCorrection(null));
  correction.append(cancel);
  askInput.placeholder = "What did you mean? For example: per month, only 2024, by region…";
  askInput.focus();
}

async function openThread(rootUuid, lastUuid) {
  if (state.controller) return; // finish or stop the running answer first
  try {
    const { messages: turns } = await api.thread(lastUuid);
    messages.replaceChildren();
    for (const turn of turns) {
      const view = messageView(turn.ask);
      showFinal(view, turn);
    }
    state.rootUuid = rootUuid;
    state.lastUuid = lastUuid;
    markActiveThread();
    messages.lastElementChild?.scrollIntoView({ block: "end" });
  } catch (error) {
    statusLine.textContent = `Could not open thread: ${describeError(error)}`;
  }
}

// --- One message ---------------------------------------------------------------------------------

function messageView(ask) {
  const stages = element("ol", { class: "stages", "data-testid": "stages" });
  const streamed = element("div", { class: "streamed", "data-testid": "streamed-text" });
  const body = element("div", { class: "answer-body", "data-testid": "answer-body" });
  const footer = element("div", { class: "answer-footer" });
  const answer = element("article", { class: "answer running", "data-testid": "answer" }, stages, streamed, body, footer);
  const wrapper = element("div", { class: "turn", "data-testid": "turn" }, element("div", { class: "question", textContent: ask }), answer);
  $("#empty-hint")?.remove();
  messages.querySelector(".empty")?.remove();
  messages.append(wrapper); // the start page stays above a new thread's first turns
  return { wrapper, answer, stages, streamed, body, footer };
}

function showStage(view, { stage, state: stageState, elapsed_ms: elapsed }) {
  let item = view.stages.querySelector(`[data-stage="${stage}"]`);
  if (!item) {
    item = element("li", { "data-stage": stage, textContent: STAGE_LABELS[stage] ?? stage });
    view.stages.append(item);
  }
  item.className = stageState;
  if (stageState === "finished" && elapsed != null) item.title = `${(elapsed / 1000).toFixed(1)} s`;
}

function showFinal(view, response) {
  view.answer.classList.remove("running");
  view.answer.classList.add(response.status);
  view.answer.dataset.responseUuid = response.response_uuid;
  view.answer.dataset.status = response.status;
  view.stages.querySelectorAll("li.started").forEach((li) => (li.className = response.status === "succeeded" ? "finished" : "stopped"));
  if (response.status === "succeeded") {
    view.streamed.remove();
    const { chart } = renderResponse(response, view.body, { csvUrl: response.response_data?.data ? api.csvUrl(response.response_uuid) : null });
    chart?.catch(() => null);
    const explanation = response.response_data?.explanation;
    if (explanation) view.body.append(explanationView(response, explanation));
  } else {
    const info = response.error_info ?? {};
    const message = response.status === "aborted" ? "Stopped." : `Could not answer: ${info.message ?? "unknown error"}`;
    view.body.replaceChildren(element("p", { class: "error", textContent: message, "data-testid": "answer-error" }));
    if (info.invalid_sql) view.body.append(element("pre", { class: "ac-sql" }, element("code", { textContent: info.invalid_sql })));
  }
  view.footer.replaceChildren(...footerControls(response));
}

// --- How an answer was computed, its SQL to copy or edit, and "that's not what I meant" -------------

function explanationView(response, explanation) {
  const facts = element("dl", { class: "explain-facts" });
  const fact = (term, value) => value && facts.append(element("dt", { textContent: term }), element("dd", { textContent: value }));
  for (const metric of explanation.metrics ?? []) {
    const how = [metric.definition, metric.expression && `computed as ${metric.expression}`, metric.filter && `over rows where ${metric.filter}`].filter(Boolean).join("; ");
    fact(metric.label, how || metric.name);
  }
  fact("Filters", (explanation.filters ?? []).join("; "));
  fact("Grouped by", (explanation.grouping ?? []).join(", "));
  fact("Period", explanation.period);
  fact("Order", [explanation.order, explanation.limit != null ? `top ${explanation.limit}` : null].filter(Boolean).join(", "));
  for (const note of explanation.notes ?? []) fact("Also", note);
  fact("Tables", (explanation.tables ?? []).join(", "));
  const sql = response.response_data?.sql ?? "";
  const code = element("code", { class: "language-sql", textContent: sql });
  if (globalThis.hljs?.highlightElement) globalThis.hljs.highlightElement(code);
  const copy = element("button", { type: "button", class: "link", textContent: "Copy", "data-testid": "copy-sql" });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(sql);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Select the SQL and copy it";
    }
  });
  const edit = element("button", { type: "button", class: "link", textContent: "Edit and run", "data-testid": "edit-sql" });
  const editor = element("div", { class: "sql-editor", hidden: true });
  edit.addEventListener("click", () => {
    editor.hidden = !editor.hidden;
    if (!editor.hidden) editor.querySelector("textarea").focus();
  });
  const text = element("textarea", { rows: Math.min(12, sql.split("\n").length + 2), value: sql, spellcheck: false, "data-testid": "sql-input" });
  const run = element("button", { type: "button", class: "primary", textContent: "Run", "data-testid": "run-sql" });
  const problem = element("p", { class: "error", "data-testid": "rerun-error" });
  run.addEventListener("click", async () => {
    problem.textContent = "";
    run.disabled = true;
    try {
      const rerun = await api.rerun(response.response_uuid, text.value);
      const view = messageView("Run my edited SQL");
      view.wrapper.querySelector(".question").append(element("pre", { class: "ac-sql" }, element("code", { textContent: text.value })));
      showFinal(view, rerun);
      state.lastUuid = rerun.response_uuid;
      view.answer.scrollIntoView({ block: "start", behavior: "smooth" });
      await loadThreads();
    } catch (error) {
      problem.textContent = describeUploadError(error);
    } finally {
      run.disabled = false;
    }
  });
  editor.append(text, element("div", { class: "sql-actions" }, run), problem);
  return element(
    "details",
    { class: "explain", open: true, "data-testid": "explanation" },
    element("summary", { textContent: "How this was computed" }),
    element("p", { class: "explain-summary", textContent: explanation.summary, "data-testid": "explanation-summary" }),
    facts,
    element("details", { class: "explain-sql" }, element("summary", {}, "SQL ", copy, " · ", edit), element("pre", { class: "ac-sql" }, code)),
    editor,
  );
}

function footerControls(response) {
  const parts = [];
  if (response.status === "succeeded") {
    const like = element("button", { type: "button", class: "vote", textContent: "▲ Helpful", title: "This answer helped", "data-testid": "like" });
    const dislike = element("button", { type: "button", class: "vote", textContent: "▼ Not helpful", title: "This answer did not help", "data-testid": "dislike" });
    const show = (liked) => {
      like.setAttribute("aria-pressed", String(liked === true));
      dislike.setAttribute("aria-pressed", String(liked === false));
    };
    show(response.liked);
    const vote = async (liked) => {
      try {
        const updated = await api.feedback(response.response_uuid, liked);
        show(updated.liked);
      } catch (error) {
        statusLine.textContent = `Feedback not saved: ${describeError(error)}`;
      }
    };
    like.addEventListener("click", () => vote(true));
    dislike.addEventListener("click", () => vote(false));
    parts.push(like, dislike);
    const notMeant = element("button", { type: "button", class: "vote", textContent: "That's not what I meant", "data-testid": "not-meant" });
    notMeant.addEventListener("click", () => setCorrection(response));
    parts.push(notMeant);
    if (response.response_data?.data) {
      parts.push(element("a", { href: api.csvUrl(response.response_uuid), textContent: "CSV", download: "" }));
    }
    if (response.response_data?.chart_spec) {
      parts.push(element("a", { href: api.chartUrl(response.response_uuid, "png"), textContent: "PNG", download: "" }));
    }
  }
  const seconds = response.elapsed_ms != null ? `${(response.elapsed_ms / 1000).toFixed(1)} s` : "";
  parts.push(element("span", { class: "meta", textContent: [response.model, seconds].filter(Boolean).join(" · ") }));
  return parts;
}

// --- Asking ----------------------------------------------------------------------------------------

function setBusy(busy) {
  sendButton.disabled = busy;
  stopButton.disabled = !busy;
  askInput.readOnly = busy;
  statusLine.textContent = busy ? "Working…" : "";
}

async function ask(text) {
  const view = messageView(text);
  view.wrapper.scrollIntoView({ block: "end" });
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  // "That's not what I meant" asks under the answer being corrected, so its plan is the context.
  const parent = state.correcting?.response_uuid ?? state.lastUuid;
  const params = { ask: text, scope: scopeSelect.value || undefined, model: modelSelect.value || undefined, parent_uuid: parent ?? undefined };
  if (state.correcting) params.tags = ["correction"];
  setCorrection(null);
  let final = null;
  try {
    for await (const { event, data } of api.stream(params, controller.signal)) {
      if (event === "start") {
        view.answer.dataset.responseUuid = data.response_uuid;
      } else if (event === "stage") {
        showStage(view, data);
      } else if (event === "delta") {
        view.streamed.textContent += data.text ?? "";
        view.answer.dataset.deltas = String(Number(view.answer.dataset.deltas ?? 0) + 1);
      } else if (event === "done" || event === "error") {
        final = data;
      }
    }
  } catch (error) {
    if (controller.signal.aborted) {
      final = { status: "aborted", response_uuid: view.answer.dataset.responseUuid, error_info: null };
    } else {
      final = { status: "failed", response_uuid: view.answer.dataset.responseUuid, error_info: { message: describeError(error) } };
    }
  } finally {
    state.controller = null;
    setBusy(false);
  }
  showFinal(view, final);
  view.answer.scrollIntoView({ block: "start", behavior: "smooth" });
  if (final.response_uuid) {
    // Follow-ups hang under the last turn, so the thread reads top to bottom as shown.
    state.lastUuid = final.response_uuid;
    state.rootUuid = state.rootUuid ?? final.response_uuid;
  }
  await loadThreads();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = askInput.value.trim();
  if (!text || state.controller) return;
  askInput.value = "";
  ask(text);
});

askInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

stopButton.addEventListener("click", () => state.controller?.abort());
$("#new-thread").addEventListener("click", () => {
  if (!state.controller) newThread();
});
moreThreads.addEventListener("click", () => {
  state.threadsPage += 1;
  loadThreads({ append: true });
});

scopeSelect.addEventListener("change", () => {
  if (!state.rootUuid && !state.controller) showStartPage();
});

await Promise.all([loadSources(), loadModels(), loadThreads()]);
app.dataset.ready = "true";
showStartPage();
