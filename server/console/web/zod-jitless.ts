/**
 * Imported first by app.ts, before any module that builds a zod schema: zod
 * would otherwise probe `new Function` (to compile fast parsers) while those
 * schemas are built, which the console's CSP forbids and reports. Parsing
 * without it is the same parsing, only not compiled.
 */
import { z } from "zod";

z.config({ jitless: true });
