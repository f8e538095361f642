import { RejectError } from './errors';

// C0 and C1 control characters, DEL included: never part of a name, and PostgreSQL refuses NUL.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** Throws CONTROL_CHARACTER naming the field, the character and its position. */
export function rejectControlCharacters(field: string, value: string): void {
  const match = CONTROL_CHARACTERS.exec(value);
  if (match) {
    const hex = match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw new RejectError(
      'CONTROL_CHARACTER',
      `${field} contains the control character U+${hex} at position ${match.index}; remove it at the source`,
    );
  }
}
