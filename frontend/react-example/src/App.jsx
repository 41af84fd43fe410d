import { useMemo } from "react";
import { createClient } from "../../client/analytics-chat.js";
import { ChatAnswerCard } from "./ChatAnswerCard.jsx";

export function App() {
  // Same origin through the dev proxy; a DRF token identifies the dashboard to the service.
  const client = useMemo(() => createClient({ token: import.meta.env.VITE_AC_TOKEN }), []);
  return (
    <main className="dashboard">
      <h1>Sales dashboard</h1>
      <div className="grid">
        <ChatAnswerCard client={client} scope="demo" title="Revenue trend" ask="Plot the total order amount per month" />
        <ChatAnswerCard client={client} scope="demo" title="Top customers" ask="Which five customers spent the most?" />
      </div>
    </main>
  );
}
