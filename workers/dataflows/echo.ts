/** Example `module` dataflow: returns its input unchanged. Register it with {"kind": "module", "module": "echo"}. */
export default function echo(input: unknown): unknown {
  return input;
}
