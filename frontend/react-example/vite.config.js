import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` proxies /api to the chat server (AC_BASE_URL, default http://127.0.0.1:8000), so the
// page and the API share an origin; set VITE_AC_TOKEN to a DRF token for the example dashboard
// (and VITE_AC_MODEL to ask a model other than the server's default).
export default defineConfig({
  plugins: [react()],
  server: {
    fs: { allow: [".."] }, // the JS client lives in ../client
    proxy: { "/api": process.env.AC_BASE_URL ?? "http://127.0.0.1:8000" },
  },
  test: {
    environment: "jsdom",
  },
});
