// `npm start` (and the schema export) run Grafast in development mode (more checks,
// readable errors). Grafast reads GRAPHILE_ENV once, when its module is first
// evaluated, so this must be the first import of the entry point: an
// assignment in the entry point's body runs after every static import.
process.env.GRAPHILE_ENV ??= 'development';
