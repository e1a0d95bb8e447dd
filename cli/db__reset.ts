// `npm run db:reset`: rebuild the development database from the migrations.
import { provisionDatabase } from './db__provision.ts';

export default async function main(): Promise<void> {
  await provisionDatabase({ reset: true, applyCurrent: true });
}
