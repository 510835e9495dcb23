/**
 * The field names the schema allows at a place in the file, found by walking the zod
 * schema itself, so suggestions for a misspelt field can never drift from the format.
 */
import { z } from "zod";
import { contractSchema } from "./schema.js";

type Schema = z.core.$ZodType;
type Path = readonly PropertyKey[];

/** The schema that parses values: defaults, optionals and transforms peeled off. */
function unwrap(schema: Schema): Schema {
  if (
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodOptional
  ) {
    return unwrap(schema.unwrap());
  }
  if (schema instanceof z.ZodPipe) return unwrap(schema.in);
  return schema;
}

/**
 * The object schema that applies to `value`: for a union of objects (alert channels), the
 * option whose discriminator matches, or every option's fields when none does.
 */
function objectsFor(schema: Schema, value: unknown): z.ZodObject[] {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) return [inner];
  if (inner instanceof z.ZodUnion) {
    const options = inner.options.flatMap((option) => objectsFor(option, undefined));
    const type = isRecord(value) ? value.type : undefined;
    const chosen = options.filter((option) => {
      const literal = option.shape.type;
      return literal instanceof z.ZodLiteral && [...literal.values].some((v) => v === type);
    });
    return chosen.length > 0 ? chosen : options;
  }
  return [];
}

/** The schema for the value at `path` in `data`, or undefined when the path leaves the schema. */
function schemaAt(path: Path, data: unknown): Schema | undefined {
  let schema: Schema = contractSchema;
  let value = data;
  for (const step of path) {
    const inner = unwrap(schema);
    if (inner instanceof z.ZodArray && typeof step === "number") {
      schema = inner.element;
    } else {
      const field = objectsFor(inner, value)
        .map((object) => object.shape[String(step)])
        .find((found) => found !== undefined);
      if (field === undefined) return undefined;
      schema = field;
    }
    value = child(value, step);
  }
  return schema;
}

/** The field names allowed in the mapping at `path` of `data` (the file's parsed YAML). */
export function fieldNamesAt(path: Path, data: unknown): string[] {
  const schema = schemaAt(path, data);
  if (schema === undefined) return [];
  const names = objectsFor(schema, valueAt(data, path)).flatMap((object) =>
    Object.keys(object.shape),
  );
  return [...new Set(names)];
}

/** A field of the schema and the dotted path of the mapping that holds it. */
export interface FieldPlace {
  /** "durability" for replicas; "" at the top level; "alerts.channels[]" in a list entry. */
  home: string;
  name: string;
}

/** Every field of the schema, where it is allowed: where to move one written in the wrong place. */
export function allFields(): FieldPlace[] {
  const places: FieldPlace[] = [];
  const visit = (schema: Schema, at: string): void => {
    const inner = unwrap(schema);
    if (inner instanceof z.ZodArray) {
      visit(inner.element, `${at}[]`);
      return;
    }
    for (const object of objectsFor(inner, undefined)) {
      for (const [name, child] of Object.entries(object.shape)) {
        if (!places.some((p) => p.home === at && p.name === name)) places.push({ home: at, name });
        visit(child, at === "" ? name : `${at}.${name}`);
      }
    }
  };
  visit(contractSchema, "");
  return places;
}

/** The value at `path` in `data` (the file's parsed YAML); undefined when not written. */
export function valueAt(data: unknown, path: Path): unknown {
  return path.reduce(child, data);
}

/** The value one step down `value`: a field of a mapping or an item of a list. */
function child(value: unknown, step: PropertyKey): unknown {
  if (Array.isArray(value) && typeof step === "number") return value[step];
  return isRecord(value) ? value[String(step)] : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
