import { defineConfig } from "vite";

// The controller serves dist/ from the root path; no JSX (htm), so no plugin is needed.
export default defineConfig({
  root: ".",
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
});
