// `npm run db:migrate`: provision if needed, then run committed migrations.
import { provisionDatabase } from './db__provision.ts';

export default async function main(): Promise<void> {
  await provisionDatabase();
}
