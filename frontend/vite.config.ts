import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'

// `npm run dev` talks to a running Townlet server (townlet-demo / townlet-inference,
// default port 8766); the app itself always uses its page origin.
const backend = process.env.TOWNLET_BACKEND ?? 'http://127.0.0.1:8766'

export default defineConfig({
  plugins: [vue()],
  server: {
    proxy: {
      '/ws': { target: backend, ws: true, changeOrigin: true },
      '/api': { target: backend, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 300,
  },
  test: {
    environment: 'node',
    include: ['tests/**/*.test.ts'],
  },
})
