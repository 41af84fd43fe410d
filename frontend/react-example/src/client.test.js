import { describe, expect, it } from "vitest";
import { ChatApiError, createClient, renderResponse, splitTemplate } from "../../client/analytics-chat.js";
import { ANSWER, fakeFetch } from "./fakeServer.js";

describe("analytics-chat client", () => {
  it("generate posts a non-streaming request with the token and returns the ChatResponse", async () => {
    const fetch = fakeFetch();
    const client = createClient({ baseUrl: "http://chat.test/", token: "t0k", fetch });
    const answer = await client.generate({ ask: "Revenue by region", scope: "demo" });
    expect(answer.response_uuid).toBe(ANSWER.response_uuid);
    const [call] = fetch.calls;
    expect(call.url).toBe("http://chat.test/api/chat/generate");
    expect(call.body).toEqual({ ask: "Revenue by region", scope: "demo", streaming: false });
    expect(call.init.headers.Authorization).toBe("Token t0k");
  });

  it("rejects an empty ask before any request, and surfaces field errors from the server", async () => {
    const fetch = fakeFetch();
    const client = createClient({ fetch });
    expect(() => client.generate({ ask: " " })).toThrow(/ask is required/);
    expect(fetch.calls).toHaveLength(0);
    const failing = createClient({ fetch: async () => new Response('{"scope": ["Unknown source nope."]}', { status: 400 }) });
    const error = await failing.generate({ ask: "x", scope: "nope" }).catch((e) => e);
    expect(error).toBeInstanceOf(ChatApiError);
    expect(error.status).toBe(400);
    expect(error.message).toContain("scope: Unknown source nope.");
  });

  it("stream parses SSE split at arbitrary byte boundaries, skipping comments", async () => {
    for (const chunkSize of [1, 3, 7, 1000]) {
      const client = createClient({ fetch: fakeFetch({ chunkSize }) });
      const events = [];
      for await (const item of client.stream({ ask: "Revenue by region" })) events.push(item);
      expect(events.map((e) => e.event)).toEqual(["start", "stage", "delta", "delta", "stage", "done"]);
      expect(events.filter((e) => e.event === "delta").map((e) => e.data.text).join("")).toBe("SELECT region, SUM(amount)");
      expect(events.at(-1).data.status).toBe("succeeded");
    }
  });

  it("aborting the signal drops the stream and POSTs …/abort for the started message", async () => {
    const fetch = fakeFetch({ hang: true });
    const client = createClient({ fetch });
    const controller = new AbortController();
    const seen = [];
    await expect(
      (async () => {
        for await (const { event } of client.stream({ ask: "Long one" }, controller.signal)) {
          seen.push(event);
          if (event === "delta") controller.abort();
        }
      })(),
    ).rejects.toThrow(/abort/i);
    expect(seen).toEqual(["start", "stage", "delta"]);
    const abortCalls = fetch.calls.filter((c) => c.url.endsWith("/abort"));
    expect(abortCalls.map((c) => c.url)).toEqual([`/api/chat/messages/${ANSWER.response_uuid}/abort`]);
  });

  it("renderResponse fills placeholders in template order", async () => {
    const node = document.createElement("div");
    const embedded = [];
    const { rendered, chart } = renderResponse(ANSWER, node, { vegaEmbed: async (el, spec) => embedded.push(spec) });
    expect(rendered).toEqual(["data", "sql", "chart_spec"]);
    expect([...node.children].map((c) => c.className)).toEqual(["ac-text", "ac-data", "ac-sql", "ac-chart"]);
    expect([...node.querySelectorAll("tbody tr")].map((tr) => tr.textContent)).toEqual(["north120", "south98.5"]);
    expect(node.querySelector("code.language-sql").textContent).toContain("GROUP BY region");
    await chart; // drawn once the element is in place
    expect(embedded).toEqual([ANSWER.response_data.chart_spec]);
    expect(splitTemplate("a {sql} b {nope}")).toEqual([{ text: "a " }, { placeholder: "sql" }, { text: " b {nope}" }]);
  });

  it("renderResponse can target one node per placeholder", () => {
    const nodes = { text: document.createElement("p"), data: document.createElement("div"), catalog: document.createElement("div") };
    renderResponse({ ...ANSWER, response: "Tables: {catalog}", response_data: { catalog: [{ name: "orders", description: "one row per order" }] } }, nodes);
    expect(nodes.text.textContent).toBe("Tables:");
    expect(nodes.catalog.textContent).toBe("orders — one row per order");
    expect(nodes.data.children).toHaveLength(0);
  });

  it("renders tables people can read: formats, dates, totals, sorting and the CSV link", () => {
    const node = document.createElement("div");
    const answer = {
      response: "{data}",
      response_data: {
        data: { columns: ["month", "revenue", "share"], types: ["DATE", "DOUBLE", "DOUBLE"],
                rows: [["2025-01-01", 1200.5, 0.25], ["2025-02-01", 99, 0.75]], row_count: 2, truncated: false },
        explanation: { columns: [
          { name: "month", label: "month", format: "date", unit: "utcyearmonth", total: false },
          { name: "revenue", label: "Revenue", format: "currency", unit: null, total: true },
          { name: "share", label: "Share", format: "percent", unit: null, total: false },
        ] },
      },
    };
    renderResponse(answer, node, { csvUrl: "/api/chat/messages/x/data.csv" });
    const rows = () => [...node.querySelectorAll("tbody tr")].map((tr) => [...tr.cells].map((c) => c.textContent));
    expect(rows()).toEqual([["Jan 2025", "1,200.50", "25%"], ["Feb 2025", "99.00", "75%"]]);
    expect([...node.querySelectorAll("th")].map((th) => th.textContent)).toEqual(["month", "Revenue", "Share"]);
    expect([...node.querySelector("tfoot tr").cells].map((c) => c.textContent)).toEqual(["Total", "1,299.50", ""]);
    node.querySelectorAll("th")[1].click();
    expect(rows().map((r) => r[1])).toEqual(["99.00", "1,200.50"]);
    node.querySelectorAll("th")[1].click();
    expect(rows().map((r) => r[1])).toEqual(["1,200.50", "99.00"]);
    expect(node.querySelectorAll("th")[1].getAttribute("aria-sort")).toBe("descending");
    expect(node.querySelector("a.ac-csv").getAttribute("href")).toBe("/api/chat/messages/x/data.csv");
  });
});
