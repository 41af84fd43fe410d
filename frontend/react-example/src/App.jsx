import { useMemo } from "react";
import { createClient } from "../../client/analytics-chat.js";
import { ChatAnswerCard } from "./ChatAnswerCard.jsx";

export function App() {
  // Same origin through the dev proxy; a DRF token identifies the dashboard to the service.
  const client = useMemo(() => createClient({ token: import.meta.env.VITE_AC_TOKEN }), []);
  // VITE_AC_MODEL names a model; unset, the server's default answers.
  const model = import.meta.env.VITE_AC_MODEL || undefined;
  return (
    <main className="dashboard">
      <h1>Sales dashboard</h1>
      <div className="grid">
        <ChatAnswerCard client={client} scope="demo" model={model} title="Revenue trend" ask="Plot the total order amount per month" />
        <ChatAnswerCard client={client} scope="demo" model={model} title="Top customers" ask="Which five customers spent the most?" />
      </div>
    </main>
  );
}
