// Every task the worker runs, by identifier. One file per task in tasks/.
import type { TaskList } from 'graphile-worker';
import { sessions__sweep } from '../tasks/sessions__sweep.ts';

export const taskList: TaskList = {
  sessions__sweep,
};
