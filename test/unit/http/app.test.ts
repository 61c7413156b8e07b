import type { AddressInfo } from "node:net";
import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { createApp, escapeHtml, type AppSource } from "../../../src/http/app.js";

describe("escapeHtml", () => {
  it("escapes a script tag", () => {
    expect(escapeHtml("<script>alert(1)</script>")).toBe("&#60;script&#62;alert(1)&#60;/script&#62;");
  });

  it("escapes all five HTML-special characters and nothing else", () => {
    expect(escapeHtml(`a&b<c>d"e'f`)).toBe("a&#38;b&#60;c&#62;d&#34;e&#39;f");
    expect(escapeHtml("node-a.example.com 10.0.0.1 ünï")).toBe("node-a.example.com 10.0.0.1 ünï");
    expect(escapeHtml("")).toBe("");
  });

  it("leaves no raw special character behind", () => {
    const hostile = `"><script>document.location='//x'</script><img src=x onerror='a&&b'>`;
    expect(escapeHtml(hostile)).not.toMatch(/[<>"'&](?!#\d+;)/);
    expect(escapeHtml(hostile)).not.toMatch(/[<>"']/);
  });
});

describe("the landing page", () => {
  it("escapes the node name", async () => {
    const source: AppSource = {
      ready: false,
      snapshot: null,
      render: () => Promise.resolve([]),
      countScrape: () => undefined,
    };
    const server = createServer(createApp(source, "<script>alert(1)</script>"));
    await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/`);
      const body = await res.text();
      expect(res.status).toBe(200);
      expect(body).toContain("<p>Node <b>&#60;script&#62;alert(1)&#60;/script&#62;</b></p>");
      expect(body).not.toContain("<script>");
      expect(body).toContain("<p>First scan in progress.</p>");
      expect(body).toContain("<p>Kubernetes pod view: off.</p>");
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toBe("not ready: first scan and file watches in progress\n");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    }
  });
});

describe("the landing page with Kubernetes on", () => {
  it("says whether the view is synced, the Node confirmed, how many orphans, and the GC mode", async () => {
    const source: AppSource = {
      ready: true,
      snapshot: null,
      kubernetes: { synced: false, nodeConfirmed: true, orphans: 3, gcMode: "dry-run" },
      render: () => Promise.resolve([]),
      countScrape: () => undefined,
    };
    const server = createServer(createApp(source, "node-a"));
    await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      expect(body).toContain(
        "<p>Kubernetes pod view: <b>not synced</b>; Node confirmed; 3 orphan pods; GC dry-run.</p>",
      );
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    }
  });
});

describe("the landing page's process metrics line", () => {
  async function landing(processes: AppSource["processes"]): Promise<string> {
    const source: AppSource = {
      ready: true,
      snapshot: null,
      processes,
      render: () => Promise.resolve([]),
      countScrape: () => undefined,
    };
    const server = createServer(createApp(source, "node-a"));
    await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
    try {
      const { port } = server.address() as AddressInfo;
      return await (await fetch(`http://127.0.0.1:${port}/`)).text();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    }
  }

  it("says when the host's PID namespace is not visible, and what the last sample found", async () => {
    expect(await landing({ state: "not_visible" })).toContain(
      "<p>Process metrics: <b>off: the host's PID namespace is not visible</b> (run the pod with hostPID).</p>",
    );
    expect(await landing({ state: "on", pods: 2, processes: 9, takenAt: 0 })).toContain(
      "<p>Process metrics: 9 processes of 2 pods; last sample 1970-01-01T00:00:00.000Z.</p>",
    );
    expect(await landing({ state: "off" })).toContain(
      "<p>Process metrics: off (--no-collector.processes).</p>",
    );
    expect(await landing(undefined)).not.toContain("Process metrics");
  });
});
