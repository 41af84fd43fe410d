import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { createClient } from "../../client/analytics-chat.js";
import { ChatAnswerCard } from "./ChatAnswerCard.jsx";
import { ANSWER, fakeFetch } from "./fakeServer.js";

afterEach(cleanup);

describe("<ChatAnswerCard>", () => {
  it("streams, then shows the table, the SQL and the chart", async () => {
    const fetch = fakeFetch();
    const charts = [];
    const embed = async (element, spec) => {
      element.setAttribute("data-chart", spec.mark);
      charts.push(spec);
    };
    const { container } = render(<ChatAnswerCard client={createClient({ fetch })} ask="Revenue by region" scope="demo" embed={embed} />);
    await waitFor(() => expect(container.querySelector("section").dataset.phase).toBe("done"));
    expect(container.querySelectorAll(".ac-data tbody tr")).toHaveLength(2);
    expect(container.querySelector(".ac-sql").textContent).toBe(ANSWER.response_data.sql);
    expect(container.querySelector(".ac-chart").dataset.chart).toBe("bar");
    expect(fetch.calls[0].body).toMatchObject({ ask: "Revenue by region", scope: "demo", streaming: true });
    expect(screen.getByRole("button", { name: "Refresh" })).toBeTruthy();
  });

  it("Stop aborts the request and tells the server", async () => {
    const fetch = fakeFetch({ hang: true });
    const { container } = render(<ChatAnswerCard client={createClient({ fetch })} ask="Long one" embed={async () => {}} />);
    await waitFor(() => expect(container.querySelector(".streamed")?.textContent).toBe("SELECT region"));
    expect(screen.getByRole("status").textContent).toBe("Writing SQL…");
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Stop" })));
    await waitFor(() => expect(container.querySelector("section").dataset.phase).toBe("aborted"));
    await waitFor(() => expect(fetch.calls.some((c) => c.url.endsWith(`/messages/${ANSWER.response_uuid}/abort`))).toBe(true));
  });
});
