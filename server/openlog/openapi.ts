/**
 * The open log's routes for the gateway's OpenAPI document: spread into its `paths`.
 * C2SP formats (c2sp.org/tlog-checkpoint, tlog-tiles, tlog-proof); public but for entry bundles.
 */
const octets = { content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } };
const text = { content: { "text/plain; charset=utf-8": { schema: { type: "string" } } } };
const tilePath = {
  name: "path",
  in: "path",
  required: true,
  description: "N in 3-digit segments, all but the last prefixed with x (x001/x234/067), then .p/<W> for a partial tile of width W",
  schema: { type: "string" },
};

export const openLogOpenApiPaths = {
  "/v1/log/checkpoint": {
    get: {
      security: [],
      summary: "The latest anchored checkpoint as a C2SP signed note (origin, size, base64 root, Ed25519 signature); ?size=N: the note signed for an earlier anchored size",
      parameters: [{ name: "size", in: "query", schema: { type: "integer", minimum: 1 } }],
      responses: { "200": { description: "signed note", ...text }, "404": { description: "nothing signed yet" } },
    },
  },
  "/v1/log/tile/{level}/{path}": {
    get: {
      security: [],
      summary: "A hash tile (height 8): 256 hashes of 32 bytes, or W of a partial tile; only up to the latest signed checkpoint",
      parameters: [{ name: "level", in: "path", required: true, schema: { type: "integer", minimum: 0, maximum: 63 } }, tilePath],
      responses: { "200": { description: "tile", ...octets }, "404": { description: "beyond the latest signed checkpoint, or not a tile path" } },
    },
  },
  "/v1/log/tile/entries/{path}": {
    get: {
      summary: "An entry bundle: each leaf's bytes after a big-endian uint16 length (keys scoped to the whole log: admin, monitor, unscoped auditor)",
      parameters: [tilePath],
      responses: { "200": { description: "bundle", ...octets }, "401": { description: "no key" }, "403": { description: "the key's scope is not the whole log" }, "404": { description: "beyond the latest signed checkpoint" } },
    },
  },
  "/v1/log/proof/consistency": {
    get: {
      security: [],
      summary: "RFC 9162 consistency proof between two anchored sizes: { from: { treeSize, rootHash }, to: { treeSize, rootHash }, proof: [0x…] }",
      parameters: [
        { name: "from", in: "query", required: true, schema: { type: "integer", minimum: 0 } },
        { name: "to", in: "query", required: true, schema: { type: "integer", minimum: 0 } },
      ],
      responses: { "200": { description: "proof" }, "400": { description: "from > to or not integers" }, "404": { description: "a size that is not anchored" } },
    },
  },
} as const;
