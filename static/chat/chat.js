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

const STAGE_LABELS = {
  route: "Understanding",
  context: "Finding data",
  sql: "Writing SQL",
  execute: "Running query",
  chart: "Drawing chart",
  compose: "Writing answer",
};

const state = { rootUuid: null, lastUuid: null, controller: null, threadsPage: 1 };

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

async function loadSources() {
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
    if ([...scopeSelect.options].some((o) => o.value === defaultScope)) scopeSelect.value = defaultScope;
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
  messages.replaceChildren(element("p", { class: "empty", textContent: "New thread: ask a question." }));
  markActiveThread();
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
  messages.append(wrapper);
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
    const { chart } = renderResponse(response, view.body);
    chart?.catch(() => null);
  } else {
    const info = response.error_info ?? {};
    const message = response.status === "aborted" ? "Stopped." : `Could not answer: ${info.message ?? "unknown error"}`;
    view.body.replaceChildren(element("p", { class: "error", textContent: message, "data-testid": "answer-error" }));
    if (info.invalid_sql) view.body.append(element("pre", { class: "ac-sql" }, element("code", { textContent: info.invalid_sql })));
  }
  view.footer.replaceChildren(...footerControls(response));
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
  const params = { ask: text, scope: scopeSelect.value || undefined, model: modelSelect.value || undefined, parent_uuid: state.lastUuid ?? undefined };
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

await Promise.all([loadSources(), loadModels(), loadThreads()]);
app.dataset.ready = "true";
