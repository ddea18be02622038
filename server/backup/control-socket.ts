import { chmodSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";

/**
 * A Unix socket in the data directory through which `ledger backup --data-dir` asks the
 * running gateway for a backup: the gateway holds LevelDB's lock, so no other process
 * can read its databases. Whoever can reach the socket can read the data directory
 * anyway; the socket is its owner's only (0600).
 *
 * Protocol: one JSON line asking `{ "op": "backup", "to": "/absolute/file" }`, answered
 * by `{ "progress": "…" }` lines and one `{ "done": … }` or `{ "error": "…" }` line.
 */

export const CONTROL_SOCKET = "control.sock";
/** Linux's limit on a socket path (sun_path), with its terminating NUL. */
const MAX_SOCKET_PATH = 107;

export type ControlHandler = (request: { op: "backup"; to: string }, progress: (message: string) => void) => Promise<unknown>;

export interface ControlSocket {
  path: string;
  close(): Promise<void>;
}

/** Listens on DATA_DIR/control.sock; undefined (with the reason told) where a socket cannot be made. */
export async function serveControlSocket(dataDir: string, handle: ControlHandler, warn: (message: string) => void): Promise<ControlSocket | undefined> {
  const socketPath = path.join(dataDir, CONTROL_SOCKET);
  if (socketPath.length > MAX_SOCKET_PATH) {
    warn(`the data directory's path is too long for ${CONTROL_SOCKET} (${socketPath.length} > ${MAX_SOCKET_PATH} bytes): \`ledger backup --data-dir\` cannot reach this gateway`);
    return undefined;
  }
  // A socket file left by a gateway killed earlier: this process holds the data directory's lock, so it is stale.
  rmSync(socketPath, { force: true });
  const server = createServer((socket) => serve(socket, handle));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  return {
    path: socketPath,
    close: () => new Promise<void>((resolve) => closeServer(server, socketPath, resolve)),
  };
}

function closeServer(server: Server, socketPath: string, done: () => void): void {
  server.close(() => {
    rmSync(socketPath, { force: true });
    done();
  });
}

function serve(socket: Socket, handle: ControlHandler): void {
  socket.on("error", () => undefined);
  const send = (value: unknown) => socket.writable && socket.write(JSON.stringify(value) + "\n");
  const lines = createInterface({ input: socket });
  lines.once("line", (text) => {
    lines.close();
    let request: { op?: unknown; to?: unknown };
    try {
      request = JSON.parse(text) as typeof request;
    } catch {
      send({ error: "not a JSON request" });
      return socket.end();
    }
    if (request.op !== "backup" || typeof request.to !== "string" || !path.isAbsolute(request.to)) {
      send({ error: 'ask { "op": "backup", "to": "/absolute/path" }' });
      return socket.end();
    }
    handle({ op: "backup", to: request.to }, (message) => send({ progress: message })).then(
      (done) => {
        send({ done });
        socket.end();
      },
      (error: Error) => {
        send({ error: error.message });
        socket.end();
      },
    );
  });
}

/** `ledger backup`'s side: asks the gateway on DATA_DIR/control.sock; rejects with the gateway's reason. */
export function requestBackup(dataDir: string, to: string, onProgress: (message: string) => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path.join(dataDir, CONTROL_SOCKET));
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      outcome();
    };
    socket.once("error", (error) => settle(() => reject(error)));
    socket.once("connect", () => socket.write(JSON.stringify({ op: "backup", to }) + "\n"));
    createInterface({ input: socket }).on("line", (text) => {
      const answer = JSON.parse(text) as { progress?: string; done?: unknown; error?: string };
      if (answer.progress) onProgress(answer.progress);
      if (answer.error) settle(() => reject(new Error(answer.error)));
      if (answer.done) settle(() => resolve(answer.done));
    });
    socket.once("close", () => settle(() => reject(new Error("the gateway closed the connection without an answer"))));
  });
}
