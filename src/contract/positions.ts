/**
 * From a path in the parsed contract ("durability.replicas") back to where it is written
 * in the YAML source, so every error points at a line and column an editor can jump to.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from "yaml";

/** A 1-based line and column in the source text. */
export interface Position {
  line: number;
  column: number;
}

/** The key of a mapping entry as text, for matching against a path step. */
function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === "string" || typeof key === "number" ? String(key) : undefined;
}

/** The node one step down from `node`, or undefined when the source has no such entry. */
function step(document: Document, node: Node, at: PropertyKey): Node | undefined {
  const from = isAlias(node) ? node.resolve(document) : node;
  if (isMap(from)) {
    const pair = from.items.find((item) => keyText(item.key) === String(at));
    if (pair === undefined) return undefined;
    // An entry with no value ("replicas:") has an empty value node; point at its key then.
    const value = pair.value as Node | null;
    if (value !== null && !(isScalar(value) && value.value === null)) return value;
    return pair.key as Node;
  }
  if (isSeq(from) && typeof at === "number")
    return (from.items[at] as Node | undefined) ?? undefined;
  return undefined;
}

/**
 * Where the value at `path` is written; when it is not written (a missing required field),
 * where the deepest enclosing value that is. With `key`, the position of that key inside
 * the mapping at `path` (for an unknown field, the field's name is what is wrong).
 */
export function locate(
  document: Document,
  lines: LineCounter,
  path: readonly PropertyKey[],
  key?: string,
): Position {
  let node = document.contents as Node | null;
  if (node === null) return { line: 1, column: 1 };
  for (const at of path) {
    const next = step(document, node, at);
    if (next === undefined) break;
    node = next;
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((item) => keyText(item.key) === key);
    if (pair !== undefined) node = pair.key as Node;
  }
  return positionOf(lines, node.range?.[0] ?? 0);
}

/** The 1-based line and column of a character offset. */
export function positionOf(lines: LineCounter, offset: number): Position {
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}
