// A fetch stand-in that answers like the chat API (SSE for streaming generate), for unit tests.
const encoder = new TextEncoder();
const sse = (event, data) => encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

export const ANSWER = {
  response_uuid: "11111111-1111-4111-8111-111111111111",
  parent_uuid: null,
  status: "succeeded",
  response: "North leads with 120.\n\n{data}\n\n{sql}\n\n{chart_spec}",
  response_data: {
    data: { columns: ["region", "revenue"], types: ["VARCHAR", "DOUBLE"], rows: [["north", 120], ["south", 98.5]], row_count: 2, truncated: false },
    sql: "SELECT region, SUM(amount) AS revenue FROM orders GROUP BY region",
    chart_spec: { mark: "bar", data: { values: [] } },
    semantic_context: null,
    catalog: null,
  },
};

/** fakeFetch({hang}) → fetch function with `.calls` [{url, init, body}]. `hang` keeps the stream open
 * after the first delta until the request's signal aborts. `chunkSize` splits the bytes at odd places. */
export function fakeFetch({ hang = false, chunkSize = 7 } = {}) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    const body = init.body ? JSON.parse(init.body) : null;
    calls.push({ url, init, body });
    if (url.endsWith("/abort")) {
      return new Response(JSON.stringify({ response_uuid: ANSWER.response_uuid, status: "aborted" }), { status: 202 });
    }
    if (url.endsWith("/api/chat/generate") && !body?.ask) {
      return new Response(JSON.stringify({ ask: ["This field is required."] }), { status: 400 });
    }
    if (url.endsWith("/api/chat/generate") && body.streaming) {
      const frames = [
        sse("start", { response_uuid: ANSWER.response_uuid, parent_uuid: null }),
        encoder.encode(": heartbeat\r\n\r\n"),
        sse("stage", { stage: "sql", state: "started", elapsed_ms: null }),
        sse("delta", { text: "SELECT region" }),
      ];
      const tail = [sse("delta", { text: ", SUM(amount)" }), sse("stage", { stage: "sql", state: "finished", elapsed_ms: 4 }), sse("done", ANSWER)];
      const bytes = concat(frames);
      const stream = new ReadableStream({
        async start(controller) {
          for (let i = 0; i < bytes.length; i += chunkSize) controller.enqueue(bytes.slice(i, i + chunkSize));
          if (hang) {
            init.signal?.addEventListener("abort", () => controller.error(new DOMException("Aborted", "AbortError")));
            return;
          }
          for (const frame of tail) controller.enqueue(frame);
          controller.close();
        },
      });
      return new Response(stream, { status: 200, headers: { "Content-Type": "text/event-stream" } });
    }
    if (url.endsWith("/api/chat/generate")) return new Response(JSON.stringify(ANSWER), { status: 200 });
    return new Response(JSON.stringify({ detail: "Not found." }), { status: 404 });
  };
  fetch.calls = calls;
  return fetch;
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
