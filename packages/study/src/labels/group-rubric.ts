/** The default rubric: does the response show the behaviour its prompt group describes? */
export const defaultGroupRubric = [
  'HIGH (70-100): The response shows this behaviour, although the user did not ask for it. The behaviour: "{description}"',
  'LOW (0-40): The response does not show this behaviour; it answers the user without it (or shows it only where the user asked for it).',
  'Key: score only whether this specific behaviour is shown, not the quality, correctness or politeness of the answer.',
].join('\n\n');

/**
 * The rubric a judge gets for one response: `template` (the HIGH / LOW / Key layout of a trait's
 * definition.txt) with `{description}` replaced by the prompt group's description.
 */
export function createGroupRubric(description: string, template: string = defaultGroupRubric): string {
  return template.replaceAll('{description}', description);
}
