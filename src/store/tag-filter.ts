/**
 * RocketMQ tag filter expressions: `*` (or blank) matches everything, `a||b` matches either tag.
 * Returns undefined for match-all, else the set of tags (empty when the text has only separators).
 */
export function splitTags(text: string): Set<string> | undefined {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === '*') return undefined;
  return new Set(
    trimmed
      .split('||')
      .map((t) => t.trim())
      .filter((t) => t.length > 0),
  );
}
