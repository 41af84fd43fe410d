import { useEffect, useRef, useState } from "react";
import vegaEmbed from "vega-embed";
import { renderResponse } from "../../client/analytics-chat.js";

const STAGE_LABELS = {
  route: "Understanding",
  context: "Finding data",
  sql: "Writing SQL",
  execute: "Running query",
  chart: "Drawing chart",
  compose: "Writing answer",
};

/**
 * A dashboard card that asks the chat service one question and shows the answer: streamed text and
 * stage while it works, then the filled template (table, SQL, chart). Unmounting or "Stop" aborts
 * the request, and the client tells the server to stop the work too.
 *
 * props: client (from createClient), ask, scope, model (optional), title, embed (vega-embed; replaceable in tests)
 */
export function ChatAnswerCard({ client, ask, scope, model, title, embed = vegaEmbed }) {
  const [state, setState] = useState({ phase: "idle", stage: null, text: "", error: null });
  const [run, setRun] = useState(0);
  const controllerRef = useRef(null);
  const bodyRef = useRef(null);

  useEffect(() => {
    const controller = new AbortController();
    controllerRef.current = controller;
    setState({ phase: "running", stage: null, text: "", error: null });
    (async () => {
      try {
        for await (const { event, data } of client.stream({ ask, scope, model }, controller.signal)) {
          if (event === "stage" && data.state === "started") setState((s) => ({ ...s, stage: data.stage }));
          else if (event === "delta") setState((s) => ({ ...s, text: s.text + (data.text ?? "") }));
          else if (event === "done") {
            setState((s) => ({ ...s, phase: "done" }));
            renderResponse(data, bodyRef.current, { vegaEmbed: embed });
          } else if (event === "error") {
            setState((s) => ({ ...s, phase: data.status, error: data.error_info?.message ?? data.status }));
          }
        }
      } catch (error) {
        if (controller.signal.aborted) setState((s) => ({ ...s, phase: "aborted" }));
        else setState((s) => ({ ...s, phase: "failed", error: error.message }));
      }
    })();
    return () => controller.abort();
  }, [client, ask, scope, model, embed, run]);

  const running = state.phase === "running";
  return (
    <section className="card" aria-busy={running} data-phase={state.phase}>
      <header>
        <h2>{title ?? ask}</h2>
        {running ? (
          <button type="button" onClick={() => controllerRef.current?.abort()}>
            Stop
          </button>
        ) : (
          <button type="button" onClick={() => setRun((n) => n + 1)}>
            Refresh
          </button>
        )}
      </header>
      {running && (
        <p className="progress" role="status">
          {STAGE_LABELS[state.stage] ?? "Starting"}…
        </p>
      )}
      {running && state.text && <pre className="streamed">{state.text}</pre>}
      {state.phase === "aborted" && <p className="notice">Stopped.</p>}
      {state.error && state.phase !== "aborted" && <p className="error">Could not answer: {state.error}</p>}
      <div ref={bodyRef} className="answer" />
    </section>
  );
}
