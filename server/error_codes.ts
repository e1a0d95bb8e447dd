// The errors a client may see, by code. SQL raises these SQLSTATEs on purpose
// (`raise exception … using errcode = 'SMS01'`); server/mask_error.ts passes
// them through with their message, and hides every other error. README's
// error table lists exactly these (test/error_codes.test.ts checks).

export const ERROR_CODES: Record<string, string> = {
  // Search and prices
  SMS01: 'Coordinates off the globe (latitude −90…90, longitude −180…180).',
  SMS02: 'Radius not above 0, or above the 50 km (31 mi) maximum.',
  SMS03: 'Time window not bookable: missing bound, end not after start, longer than 7 days, or starting more than 90 days ahead.',
  SMS04: 'No such spot.',
  // PostgreSQL's own, when a rule in the schema refuses a write
  '23505': 'A unique value is already taken (e.g. an email address).',
  '23514': 'A value breaks a rule of the schema (check constraint).',
  '23P01': 'Overlaps an existing reservation (exclusion constraint).',
  '42501': 'Not allowed for the current user (permissions or row level security).',
  '22P02': 'A value has the wrong format (e.g. a malformed number or id).',
  '22007': 'A date or time has the wrong format.',
  '22008': 'A date or time is out of range.',
  // Added by the API itself
  GRAPHQL_VALIDATION_FAILED: 'The query does not fit the schema, or a variable has the wrong type.',
  INTERNAL: 'Unexpected error; the message carries a reference to the server log.',
};
